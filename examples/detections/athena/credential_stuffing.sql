-- Credential stuffing: one source address failing logons for 5 or more distinct users within 10 minutes.
-- The address is src_endpoint.ip, or src_endpoint.uid where the sink's pii.ip hashes it (a hash is no ip_t).
-- user.name is the email whenever there is one, so login.invalid_email (no user id) counts as a user.
SELECT
  coalesce(src_endpoint.ip, src_endpoint.uid) AS source_ip,
  floor("time" / 600000) * 600000 AS window_start_ms,
  count(DISTINCT coalesce("user".name, "user".uid)) AS users,
  count(*) AS failures
FROM authlog_authentication
WHERE class_uid = 3002 AND activity_id = 1 AND status_id = 2 AND coalesce(src_endpoint.ip, src_endpoint.uid) IS NOT NULL
GROUP BY coalesce(src_endpoint.ip, src_endpoint.uid), floor("time" / 600000)
HAVING count(DISTINCT coalesce("user".name, "user".uid)) >= 5
ORDER BY users DESC
