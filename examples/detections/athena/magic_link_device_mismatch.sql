-- Magic-link misuse: a magic link used from another device than the one it was requested from,
-- with the device and OS it was used from (device needs [enrich] user_agent).
SELECT
  coalesce("user".uid, "user".name) AS who,
  "time" AS at_ms,
  coalesce(src_endpoint.ip, src_endpoint.uid) AS source_ip,
  device.name AS device,
  device.os.name AS os,
  http_request.user_agent AS user_agent
FROM authlog_authentication
WHERE metadata.event_code = 'magic_link.failed' AND status_code = 'device_mismatch'
ORDER BY at_ms
