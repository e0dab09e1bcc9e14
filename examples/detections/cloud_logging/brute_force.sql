-- Brute force by source IP: 10 or more failed logons from one address within 10 minutes.
-- Cloud Logging Log Analytics (BigQuery SQL over a log bucket upgraded to Log Analytics); alert on it
-- with a log-based alerting policy on the same filter, or a scheduled query. Replace PROJECT.
SELECT
  JSON_VALUE(json_payload.ip) AS source_ip,
  TIMESTAMP_SECONDS(DIV(UNIX_SECONDS(timestamp), 600) * 600) AS window_start,
  COUNT(*) AS failures,
  COUNT(DISTINCT JSON_VALUE(json_payload.userName)) AS users
FROM `PROJECT.global._Default._AllLogs`
WHERE log_id = 'authlog' AND JSON_VALUE(json_payload.outcome) = 'failure'
  AND JSON_VALUE(json_payload.type) IN ('login.invalid_email', 'login.invalid_password', 'login.invalid_session', 'magic_link.failed', 'magic_code.failed',
       'lockout_policy.limit_reached', 'recaptcha_policy.validation_failed', 'ip_policy.validation_failed', 'user.locked')
  AND JSON_VALUE(json_payload.ip) IS NOT NULL
GROUP BY source_ip, window_start
HAVING failures >= 10
ORDER BY failures DESC
