-- Brute force by source IP: 10 or more failed logons from one address within a 10-minute window.
-- The address is src_endpoint.ip, or src_endpoint.uid where the sink's pii.ip hashes it (a hash is no ip_t).
-- Table: the Glue table Security Lake made for the Authentication (3002) custom source
-- (replace authlog_authentication; add e.g. AND eventDay >= '20261101' to read fewer partitions).
SELECT
  coalesce(src_endpoint.ip, src_endpoint.uid) AS source_ip,
  floor("time" / 600000) * 600000 AS window_start_ms,
  count(*) AS failures,
  count(DISTINCT coalesce("user".name, "user".uid)) AS users
FROM authlog_authentication
WHERE class_uid = 3002 AND activity_id = 1 AND status_id = 2 AND coalesce(src_endpoint.ip, src_endpoint.uid) IS NOT NULL
GROUP BY coalesce(src_endpoint.ip, src_endpoint.uid), floor("time" / 600000)
HAVING count(*) >= 10
ORDER BY failures DESC
