-- Lockout spike: 5 or more distinct users refused because their account is locked within 10 minutes.
-- user.locked is a refused logon (3002, status Failure, the reason in status_code: limit_passed | locked).
SELECT
  floor("time" / 600000) * 600000 AS window_start_ms,
  count(DISTINCT coalesce("user".uid, "user".name)) AS users,
  count(*) AS locks
FROM authlog_authentication
WHERE metadata.event_code = 'user.locked' AND status_id = 2
GROUP BY floor("time" / 600000)
HAVING count(DISTINCT coalesce("user".uid, "user".name)) >= 5
ORDER BY window_start_ms
