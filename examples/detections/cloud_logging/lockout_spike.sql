-- Lockout spike: 5 or more distinct users refused because their account is locked within 10 minutes.
SELECT
  TIMESTAMP_SECONDS(DIV(UNIX_SECONDS(timestamp), 600) * 600) AS window_start,
  COUNT(DISTINCT JSON_VALUE(json_payload.userName)) AS users,
  COUNT(*) AS locks
FROM `PROJECT.global._Default._AllLogs`
WHERE log_id = 'authlog' AND JSON_VALUE(json_payload.type) = 'user.locked'
GROUP BY window_start
HAVING users >= 5
ORDER BY window_start
