-- pixelring events in ClickHouse 18.16 (Debian 12's clickhouse-server 18.16.1).
-- Needs server-18.16.xml in config.d/ and users-18.16.xml in users.d/ (see README.md).
-- Load: clickhouse-client --multiquery < schema-18.16.sql
-- Set kafka_broker_list (and kafka_topic_list if the collector's sink.kafka.topic differs).
--
-- Three objects:
--   pixelring.events_queue  Kafka engine: one message = one row, the event's JSON in `raw`
--   pixelring.events        ReplacingMergeTree: one column per member of the event
--   pixelring.events_mv     materialized view: parses `raw` into pixelring.events
--
-- Why the JSON is parsed by hand: 18.16's JSONEachRow cannot put an object of arbitrary keys
-- (params) into a column, and it has no JSONExtract functions. So the Kafka table keeps each
-- message whole (CSV with a tab delimiter, which JSON never holds raw), and the view cuts the
-- params and utm objects out of it, reads params' pairs with regular expressions, and reads
-- every other member with visitParamExtract*, which is exact once the two objects are gone:
-- every member left has a scalar value, and a JSON string cannot hold an unescaped quote, so
-- '"name":' occurs once. JSON escapes (\", \\, \uXXXX with surrogate pairs) are undone by
-- visitParamExtractString.

CREATE DATABASE IF NOT EXISTS pixelring;

CREATE TABLE IF NOT EXISTS pixelring.events
(
    v                UInt8,
    id               UUID,                        -- the de-duplication key
    ts               DateTime('UTC'),             -- to the second
    ts_ms            UInt16,                      -- the milliseconds of ts, 0 to 999
    type             String,                      -- pixel, beacon, rest, redirect
    action           String,
    campaign         String,                      -- '' when null or empty, see campaign_is_null
    campaign_is_null UInt8,                       -- 1 when the event's campaign is null
    params           Nested(key String, value String),  -- params.key[i] = params.value[i], in the event's order
    params_truncated UInt8,                       -- 1 when the event says params_truncated
    url              Nullable(String),
    path             Nullable(String),
    page_host        Nullable(String),
    referrer         Nullable(String),
    target           Nullable(String),            -- redirects only
    client_ts        Nullable(String),            -- beacons only: the client's ts, a number's text or a string's value
    utm_source       Nullable(String),
    utm_medium       Nullable(String),
    utm_campaign     Nullable(String),
    utm_term         Nullable(String),
    utm_content      Nullable(String),
    visitor          Nullable(String),
    ip               Nullable(String),
    country          Nullable(String),
    region           Nullable(String),
    city             Nullable(String),
    asn              Nullable(UInt32),
    as_org           Nullable(String),
    ua               Nullable(String),
    agent            Nullable(String),
    device           Nullable(String),
    browser          Nullable(String),
    os               Nullable(String),
    dnt              Nullable(UInt8),
    host             Nullable(String),
    collector        String,
    raw              String                       -- the message as received (drop it to save space)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (action, campaign, ts, id);

CREATE TABLE IF NOT EXISTS pixelring.events_queue
(
    raw String
)
ENGINE = Kafka
SETTINGS kafka_broker_list = 'localhost:9092',
         kafka_topic_list = 'pixelring.events',
         kafka_group_name = 'clickhouse-pixelring',
         kafka_format = 'CSV',
         kafka_row_delimiter = '\n',
         kafka_num_consumers = 1;

-- The WITH clause cuts the objects out: `top` is the event with "params" and "utm" set to
-- null, `p` and `u` are the two objects (or ''). A JSON string is "(?:[^"\\]|\\.)*" and
-- neither object holds another object, so an object is \{ (?:[^"}]|STRING)* \}. (A subquery
-- in FROM would read better, but 18.16 fails to push a Kafka table's rows through a view
-- whose query has one: "There is no query".)
CREATE MATERIALIZED VIEW IF NOT EXISTS pixelring.events_mv TO pixelring.events AS
WITH
    replaceRegexpAll(raw, '"(params|utm)":\\{(?:[^"}]|"(?:[^"\\\\]|\\\\.)*")*\\}', '"\\1":null') AS top,
    extract(raw, '"params":(\\{(?:[^"}]|"(?:[^"\\\\]|\\\\.)*")*\\})') AS p,
    extract(raw, '"utm":(\\{(?:[^"}]|"(?:[^"\\\\]|\\\\.)*")*\\})') AS u,
    visitParamExtractString(top, 'id') AS id_text,
    visitParamExtractString(top, 'ts') AS ts_text
SELECT
    toUInt8(visitParamExtractUInt(top, 'v')) AS v,
    toUUID(if(match(id_text, '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
              id_text, '00000000-0000-0000-0000-000000000000')) AS id,
    toTimeZone(parseDateTimeBestEffortOrZero(ts_text), 'UTC') AS ts,
    toUInt16OrZero(substring(ts_text, 21, 3)) AS ts_ms,
    visitParamExtractString(top, 'type') AS type,
    visitParamExtractString(top, 'action') AS action,
    visitParamExtractString(top, 'campaign') AS campaign,
    toUInt8(visitParamExtractRaw(top, 'campaign') IN ('', 'null')) AS campaign_is_null,
    arrayMap(s -> visitParamExtractString(concat('{"s":"', s, '"}'), 's'),
             extractAll(p, '"((?:[^"\\\\]|\\\\.)*)":"(?:[^"\\\\]|\\\\.)*"')) AS `params.key`,
    arrayMap(s -> visitParamExtractString(concat('{"s":"', s, '"}'), 's'),
             extractAll(p, '"(?:[^"\\\\]|\\\\.)*":"((?:[^"\\\\]|\\\\.)*)"')) AS `params.value`,
    toUInt8(visitParamExtractBool(top, 'params_truncated')) AS params_truncated,
    if(visitParamExtractRaw(top, 'url') IN ('', 'null'), NULL, visitParamExtractString(top, 'url')) AS url,
    if(visitParamExtractRaw(top, 'path') IN ('', 'null'), NULL, visitParamExtractString(top, 'path')) AS path,
    if(visitParamExtractRaw(top, 'page_host') IN ('', 'null'), NULL, visitParamExtractString(top, 'page_host')) AS page_host,
    if(visitParamExtractRaw(top, 'referrer') IN ('', 'null'), NULL, visitParamExtractString(top, 'referrer')) AS referrer,
    if(visitParamExtractRaw(top, 'target') IN ('', 'null'), NULL, visitParamExtractString(top, 'target')) AS target,
    multiIf(visitParamExtractRaw(top, 'client_ts') IN ('', 'null'), NULL,
            startsWith(visitParamExtractRaw(top, 'client_ts'), '"'), visitParamExtractString(top, 'client_ts'),
            visitParamExtractRaw(top, 'client_ts')) AS client_ts,
    if(visitParamHas(u, 'source'), visitParamExtractString(u, 'source'), NULL) AS utm_source,
    if(visitParamHas(u, 'medium'), visitParamExtractString(u, 'medium'), NULL) AS utm_medium,
    if(visitParamHas(u, 'campaign'), visitParamExtractString(u, 'campaign'), NULL) AS utm_campaign,
    if(visitParamHas(u, 'term'), visitParamExtractString(u, 'term'), NULL) AS utm_term,
    if(visitParamHas(u, 'content'), visitParamExtractString(u, 'content'), NULL) AS utm_content,
    if(visitParamHas(top, 'visitor'), visitParamExtractString(top, 'visitor'), NULL) AS visitor,
    if(visitParamHas(top, 'ip'), visitParamExtractString(top, 'ip'), NULL) AS ip,
    if(visitParamHas(top, 'country'), visitParamExtractString(top, 'country'), NULL) AS country,
    if(visitParamHas(top, 'region'), visitParamExtractString(top, 'region'), NULL) AS region,
    if(visitParamHas(top, 'city'), visitParamExtractString(top, 'city'), NULL) AS city,
    if(visitParamHas(top, 'asn'), toUInt32(visitParamExtractUInt(top, 'asn')), NULL) AS asn,
    if(visitParamHas(top, 'as_org'), visitParamExtractString(top, 'as_org'), NULL) AS as_org,
    if(visitParamHas(top, 'ua'), visitParamExtractString(top, 'ua'), NULL) AS ua,
    if(visitParamHas(top, 'agent'), visitParamExtractString(top, 'agent'), NULL) AS agent,
    if(visitParamHas(top, 'device'), visitParamExtractString(top, 'device'), NULL) AS device,
    if(visitParamHas(top, 'browser'), visitParamExtractString(top, 'browser'), NULL) AS browser,
    if(visitParamHas(top, 'os'), visitParamExtractString(top, 'os'), NULL) AS os,
    if(visitParamHas(top, 'dnt'), toUInt8(visitParamExtractBool(top, 'dnt')), NULL) AS dnt,
    if(visitParamExtractRaw(top, 'host') IN ('', 'null'), NULL, visitParamExtractString(top, 'host')) AS host,
    visitParamExtractString(top, 'collector') AS collector,
    raw
FROM pixelring.events_queue;
