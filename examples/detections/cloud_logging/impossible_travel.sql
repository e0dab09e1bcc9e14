-- Impossible travel: two successful logons of one user, more than 500 km apart, at more than 1,000 km/h.
-- Needs [enrich] geoip_db (jsonPayload.enrichment.geo.location.lat / .lon).
WITH logons AS (
  SELECT
    JSON_VALUE(json_payload.userName) AS who,
    timestamp AS at,
    JSON_VALUE(json_payload.ip) AS ip,
    JSON_VALUE(json_payload.enrichment.geo.countryIsoCode) AS country,
    ST_GEOGPOINT(CAST(JSON_VALUE(json_payload.enrichment.geo.location.lon) AS FLOAT64),
                 CAST(JSON_VALUE(json_payload.enrichment.geo.location.lat) AS FLOAT64)) AS place
  FROM `PROJECT.global._Default._AllLogs`
  WHERE log_id = 'authlog' AND JSON_VALUE(json_payload.type) = 'login.completed'
    AND JSON_VALUE(json_payload.enrichment.geo.location.lat) IS NOT NULL
),
hops AS (
  SELECT who, at, ip, country, place,
    LAG(at) OVER (PARTITION BY who ORDER BY at) AS prev_at,
    LAG(ip) OVER (PARTITION BY who ORDER BY at) AS prev_ip,
    LAG(country) OVER (PARTITION BY who ORDER BY at) AS prev_country,
    LAG(place) OVER (PARTITION BY who ORDER BY at) AS prev_place
  FROM logons
)
SELECT who, prev_ip, ip, prev_country, country,
  ROUND(ST_DISTANCE(prev_place, place) / 1000) AS km,
  ROUND((ST_DISTANCE(prev_place, place) / 1000) / GREATEST(TIMESTAMP_DIFF(at, prev_at, SECOND) / 3600, 1 / 60)) AS km_per_hour
FROM hops
WHERE prev_at IS NOT NULL
  AND ST_DISTANCE(prev_place, place) > 500000
  AND (ST_DISTANCE(prev_place, place) / 1000) / GREATEST(TIMESTAMP_DIFF(at, prev_at, SECOND) / 3600, 1 / 60) > 1000
ORDER BY km_per_hour DESC
