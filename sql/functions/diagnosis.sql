-- Diagnosis (docs/assist.md): GET …/endpoints/{id}/diagnosis and
-- `hookd diagnose <endpoint>`. The failed attempts of an endpoint over the
-- last hour or its last 200 attempts, whichever holds more (at most the
-- last 50 000), grouped by what went wrong, each group ranked by its share
-- of the failures, with its evidence and what to do.

-- What went wrong in one failed attempt, from its status and curl's (or
-- hookd's) words; the first rule that holds.
CREATE OR REPLACE FUNCTION hookd.attempt_finding(status_code integer, error text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN error ~* 'refused by the SSRF guard' THEN 'ssrf_refused'
        WHEN error ~* 'resolve' THEN 'dns'
        WHEN error ~* 'certificate (has )?expired' THEN 'tls_expired'
        WHEN error ~* 'subject name|does not match (the )?target host' THEN 'tls_wrong_host'
        WHEN error ~* 'certificate|self[- ]signed|local issuer' THEN 'tls_untrusted'
        WHEN error ~* 'timed out|timeout' THEN 'timeout'
        WHEN error ~* '\mSSL\M|\mTLS\M' THEN 'tls_handshake'
        WHEN error ~* 'connection refused|couldn''t connect|failed to connect' THEN 'connection_refused'
        WHEN error ~* 'reset|empty reply|recv failure|failure when receiving|send failure'
            THEN 'connection_dropped'
        WHEN status_code IN (401, 403) THEN 'auth_rejected'
        WHEN status_code = 410 THEN 'gone'
        WHEN status_code = 429 THEN 'rate_limited'
        WHEN status_code BETWEEN 300 AND 399 THEN 'redirect'
        WHEN status_code = 404 THEN 'not_found'
        WHEN status_code BETWEEN 400 AND 499 THEN 'rejected'
        WHEN status_code >= 500 THEN 'server_error'
        WHEN status_code IS NULL AND error IS NOT NULL THEN 'not_sent'
        ELSE 'other' END
$$;

-- What a finding means and what to do, in words, for this endpoint and
-- what its attempts showed (e: count, statuses, example's error, …).
CREATE OR REPLACE FUNCTION hookd.finding_words(kind text, ep hookd.endpoints, e jsonb,
                                               OUT summary text, OUT fix text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    host  text := substring(ep.url from '^[a-zA-Z]+://(?:[^@/?#]*@)?(\[[^]]*\]|[^:/?#]*)');
    port  text := coalesce(substring(ep.url from '^[a-zA-Z]+://(?:[^@/?#]*@)?(?:\[[^]]*\]|[^:/?#]*):([0-9]+)'),
                           CASE WHEN ep.url ~* '^https' THEN '443' ELSE '80' END);
    codes text := e->>'statuses';
BEGIN
    CASE kind
    WHEN 'auth_rejected' THEN
        summary := format('the receiver refused hookd''s requests (HTTP %s)', codes);
        fix := 'If the receiver verifies signatures, give it the endpoint''s current '
               'secret (POST …/rotate-secret makes a new one; the old one stays valid '
               'during its grace). If it wants credentials, set the endpoint''s auth or '
               'headers.';
    WHEN 'tls_expired' THEN
        summary := format('the TLS certificate of %s has expired', host);
        fix := 'Renew the receiver''s certificate. hookd verifies certificates and '
               'sends nothing over one that is out of date; the deliveries wait and '
               'are retried.';
    WHEN 'tls_wrong_host' THEN
        summary := format('the TLS certificate of %s is for another name', host);
        fix := format('Serve a certificate whose names include %s, or change the '
                      'endpoint''s URL to a name the certificate holds.', host);
    WHEN 'tls_untrusted' THEN
        summary := format('hookd does not trust the TLS certificate of %s', host);
        fix := 'Use a certificate from a public certificate authority; for a private '
               'one, the operator adds its CA to ca_file in hookd.conf.';
    WHEN 'tls_handshake' THEN
        summary := format('the TLS handshake with %s:%s failed', host, port);
        fix := format('Check that %s:%s speaks HTTPS (not plain HTTP) with TLS 1.2 '
                      'or newer.', host, port);
    WHEN 'timeout' THEN
        summary := format('the receiver did not answer within the endpoint''s timeout '
                          '(%s ms; these attempts lasted %s ms at the median)',
                          ep.timeout_ms, e->>'median_ms');
        fix := 'Answer 2xx as soon as the event is stored and do the work afterwards, '
               'or raise the endpoint''s timeout_ms.';
    WHEN 'dns' THEN
        summary := format('the host name %s does not resolve', host);
        fix := 'Check the endpoint''s URL for a typo, and that the name has DNS '
               'records (A or AAAA).';
    WHEN 'connection_refused' THEN
        summary := format('nothing accepted connections at %s port %s', host, port);
        fix := 'Check that the receiver is running and listening on that port, and '
               'that no firewall rejects hookd.';
    WHEN 'connection_dropped' THEN
        summary := 'the receiver closed the connection without an answer';
        fix := 'Check the receiver''s logs and any proxy or load balancer in front of '
               'it (idle timeouts, body size limits).';
    WHEN 'ssrf_refused' THEN
        summary := format('%s is a private, loopback or link-local address, which hookd '
                          'does not send to', coalesce(e->>'address', host));
        fix := 'Use a public address for the receiver; if the private network is '
               'intended, the operator allows it with allow_network in hookd.conf.';
    WHEN 'gone' THEN
        summary := 'the receiver answered 410 Gone, and hookd disabled the endpoint';
        fix := 'Delete the endpoint if it is retired; otherwise fix the receiver and '
               'POST …/resume.';
    WHEN 'redirect' THEN
        summary := format('the receiver redirects (HTTP %s%s), and hookd does not follow '
                          'redirects', codes,
                          coalesce(' to ' || (e->>'location'), ''));
        fix := 'Set the endpoint''s URL to where the redirect points'
               || coalesce(format(' (%s)', e->>'location'), '') || '.';
    WHEN 'rate_limited' THEN
        summary := format('the receiver limited hookd''s rate (HTTP 429, %s times)',
                          e->>'attempts');
        fix := format('Set the endpoint''s rate_limit (now %s) under the rate the '
                      'receiver accepts, or lower max_in_flight (now %s); hookd already '
                      'waits as long as Retry-After asks.',
                      coalesce(ep.rate_limit::text || ' deliveries/s', 'none'),
                      coalesce(ep.max_in_flight::text, 'none'));
    WHEN 'not_found' THEN
        summary := 'the receiver has no page at the endpoint''s URL (HTTP 404)';
        fix := 'Check the URL''s path against the receiver''s routes.';
    WHEN 'rejected' THEN
        summary := format('the receiver rejected the requests (HTTP %s)', codes);
        fix := 'The response body of the example says why; hookd does not retry '
               'these, and the deliveries are dead letters to replay once fixed.';
    WHEN 'server_error' THEN
        summary := format('the receiver failed (HTTP %s)', codes);
        fix := 'Check the receiver''s logs; the response body of the example may say '
               'why. hookd retries with backoff.';
    WHEN 'not_sent' THEN
        summary := 'hookd could not send the requests';
        fix := format('The error says why: %s', e->'example'->>'error');
    ELSE
        summary := 'the attempts failed';
        fix := 'See the example attempt''s error and response body.';
    END CASE;
END
$$;

CREATE OR REPLACE FUNCTION hookd.endpoint_diagnosis(ep hookd.endpoints)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    since     timestamptz;
    total     bigint;
    failed    bigint;
    findings  jsonb;
    words     record;
    f         jsonb;
    out       jsonb := '[]'::jsonb;
    text_     text;
BEGIN
    WITH w AS (
        SELECT x.*, hookd.attempt_finding(x.status_code, x.error) AS kind
          FROM (SELECT a.* FROM hookd.attempts a
                 WHERE a.app_id = ep.app_id AND a.endpoint_id = ep.id
                   AND a.started_at > now() - interval '1 hour'
                UNION
                (SELECT a.* FROM hookd.attempts a
                  WHERE a.app_id = ep.app_id AND a.endpoint_id = ep.id
                  ORDER BY a.started_at DESC LIMIT 200)) x
         ORDER BY x.started_at DESC LIMIT 50000
    ), totals AS (
        SELECT count(*) AS total,
               count(*) FILTER (WHERE error_class <> 'SUCCEEDED') AS failed,
               min(started_at) AS since
          FROM w
    ), groups AS (
        SELECT jsonb_build_object(
                   'kind', w.kind,
                   'attempts', count(*),
                   'share', round(count(*)::numeric / max(t.failed), 3),
                   'first_seen', hookd.rfc3339(min(w.started_at)),
                   'last_seen', hookd.rfc3339(max(w.started_at)),
                   'statuses', string_agg(DISTINCT w.status_code::text, ', '),
                   'median_ms', percentile_disc(0.5) WITHIN GROUP (ORDER BY w.duration_ms),
                   'location', (array_agg(substring(w.error from 'redirect \(HTTP [0-9]+\) to (\S+) not followed')
                                          ORDER BY w.started_at DESC))[1],
                   'address', (array_agg(substring(w.error from 'address (\S+) ')
                                         ORDER BY w.started_at DESC))[1],
                   'example', (array_agg(jsonb_build_object(
                                   'attempt_id', w.id, 'delivery_id', w.delivery_id,
                                   'attempt_number', w.attempt_number,
                                   'started_at', hookd.rfc3339(w.started_at),
                                   'duration_ms', w.duration_ms,
                                   'status_code', w.status_code, 'error', w.error,
                                   'error_class', w.error_class,
                                   'response_body', left(w.response_body, 512))
                               ORDER BY w.started_at DESC))[1]) AS g
          FROM w CROSS JOIN totals t
         WHERE w.error_class <> 'SUCCEEDED'
         GROUP BY w.kind
    )
    SELECT t.total, t.failed, t.since,
           coalesce((SELECT jsonb_agg(g ORDER BY (g->>'attempts')::bigint DESC, g->>'kind')
                       FROM groups), '[]')
      INTO total, failed, since, findings
      FROM totals t;

    FOR f IN SELECT value FROM jsonb_array_elements(findings) LOOP
        words := hookd.finding_words(f->>'kind', ep, f);
        out := out || jsonb_build_array(jsonb_build_object(
            'kind', f->>'kind', 'share', f->'share', 'summary', words.summary,
            'fix', words.fix,
            'evidence', jsonb_strip_nulls(jsonb_build_object(
                'attempts', f->'attempts', 'first_seen', f->'first_seen',
                'last_seen', f->'last_seen', 'status_codes', f->'statuses',
                'median_duration_ms', f->'median_ms', 'location', f->'location',
                'address', f->'address')),
            'example', f->'example'));
    END LOOP;

    text_ := CASE
        WHEN total = 0 THEN 'No attempts yet: nothing to diagnose.'
        WHEN failed = 0 THEN format('All %s attempts since %s succeeded.', total,
                                    hookd.rfc3339(since))
        ELSE format('%s of %s attempts since %s failed. ', failed, total,
                    hookd.rfc3339(since))
             || (SELECT string_agg(format('%s%% (%s): %s. %s',
                                          round((x->>'share')::numeric * 100),
                                          x->'evidence'->>'attempts',
                                          upper(left(x->>'summary', 1))
                                              || substr(x->>'summary', 2),
                                          x->>'fix'), ' ')
                   FROM jsonb_array_elements(out) x)
        END;
    IF ep.status <> 'enabled' THEN
        text_ := format('The endpoint is %s%s. ', ep.status,
                        coalesce(' (' || ep.disabled_reason || ')', '')) || text_;
    ELSIF ep.breaker_state <> 'closed' THEN
        text_ := format('Its circuit breaker is %s until %s: nothing is sent meanwhile. ',
                        replace(ep.breaker_state, '_', '-'),
                        hookd.rfc3339(ep.breaker_until)) || text_;
    END IF;

    RETURN jsonb_build_object(
        'endpoint_id', ep.id, 'url', ep.url, 'status', ep.status,
        'disabled_reason', ep.disabled_reason,
        'breaker', ep.breaker_state,
        'window', jsonb_build_object('since', hookd.rfc3339(since),
                                     'until', hookd.rfc3339(now()),
                                     'attempts', total, 'failed', failed,
                                     'succeeded', total - failed),
        'findings', out,
        'text', text_);
END
$$;
