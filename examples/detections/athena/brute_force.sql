-- Brute force by source IP: 10 or more failed logons from one address within a 10-minute window.
-- Table: the Glue table Security Lake made for the Authentication (3002) custom source
-- (replace authlog_authentication; add e.g. AND eventDay >= '20261101' to read fewer partitions).
SELECT
  src_endpoint.ip AS source_ip,
  floor("time" / 600000) * 600000 AS window_start_ms,
  count(*) AS failures,
  count(DISTINCT coalesce("user".name, "user".uid)) AS users
FROM authlog_authentication
WHERE class_uid = 3002 AND activity_id = 1 AND status_id = 2 AND src_endpoint.ip IS NOT NULL
GROUP BY src_endpoint.ip, floor("time" / 600000)
HAVING count(*) >= 10
ORDER BY failures DESC
