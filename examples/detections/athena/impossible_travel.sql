-- Impossible travel: two successful logons of one user, more than 500 km apart, at more than 1,000 km/h.
-- Needs [enrich] geoip_db (src_endpoint.location.coordinates = [lon, lat]); distance by the haversine formula.
WITH logons AS (
  SELECT
    coalesce("user".uid, "user".name) AS who,
    "time" AS at_ms,
    coalesce(src_endpoint.ip, src_endpoint.uid) AS ip,
    src_endpoint.location.country AS country,
    src_endpoint.location.coordinates[1] AS lon,
    src_endpoint.location.coordinates[2] AS lat
  FROM authlog_authentication
  WHERE class_uid = 3002 AND activity_id = 1 AND status_id = 1
    AND src_endpoint.location.coordinates IS NOT NULL
),
hops AS (
  SELECT
    who, at_ms, ip, country, lat, lon,
    lag(at_ms) OVER (PARTITION BY who ORDER BY at_ms) AS prev_at_ms,
    lag(ip) OVER (PARTITION BY who ORDER BY at_ms) AS prev_ip,
    lag(country) OVER (PARTITION BY who ORDER BY at_ms) AS prev_country,
    lag(lat) OVER (PARTITION BY who ORDER BY at_ms) AS prev_lat,
    lag(lon) OVER (PARTITION BY who ORDER BY at_ms) AS prev_lon
  FROM logons
),
distances AS (
  SELECT
    who, prev_ip, ip, prev_country, country, prev_at_ms, at_ms,
    2 * 6371 * asin(sqrt(
      power(sin(radians(lat - prev_lat) / 2), 2)
      + cos(radians(prev_lat)) * cos(radians(lat)) * power(sin(radians(lon - prev_lon) / 2), 2)
    )) AS km,
    greatest((at_ms - prev_at_ms) / 3600000.0, 1.0 / 60) AS hours
  FROM hops
  WHERE prev_at_ms IS NOT NULL
)
SELECT who, prev_ip, ip, prev_country, country, round(km) AS km, round(km / hours) AS km_per_hour
FROM distances
WHERE km > 500 AND km / hours > 1000
ORDER BY km_per_hour DESC
