-- Credential stuffing: one address failing logons for 5 or more distinct users within 10 minutes.
-- jsonPayload.userName is the email, else the user id: login.invalid_email still counts as a user.
SELECT
  JSON_VALUE(json_payload.ip) AS source_ip,
  TIMESTAMP_SECONDS(DIV(UNIX_SECONDS(timestamp), 600) * 600) AS window_start,
  COUNT(DISTINCT JSON_VALUE(json_payload.userName)) AS users,
  COUNT(*) AS failures
FROM `PROJECT.global._Default._AllLogs`
WHERE log_id = 'authlog' AND JSON_VALUE(json_payload.outcome) = 'failure'
  AND JSON_VALUE(json_payload.type) IN ('login.invalid_email', 'login.invalid_password', 'login.invalid_session', 'magic_link.failed', 'magic_code.failed',
       'lockout_policy.limit_reached', 'recaptcha_policy.validation_failed', 'ip_policy.validation_failed', 'user.locked')
  AND JSON_VALUE(json_payload.ip) IS NOT NULL
GROUP BY source_ip, window_start
HAVING users >= 5
ORDER BY users DESC
