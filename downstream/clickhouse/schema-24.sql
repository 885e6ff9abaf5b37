-- pixelring events in current ClickHouse (24.x and later). UNTESTED LIVE: this sandbox has
-- only Debian's ClickHouse 18.16 (schema-18.16.sql is the tested one); see README.md.
-- Load: clickhouse-client --multiquery < schema-24.sql
-- Set kafka_broker_list (and kafka_topic_list if the collector's sink.kafka.topic differs).
-- No server drop-in is needed; to start a new consumer group at the oldest message rather
-- than the newest, set <kafka><auto_offset_reset>earliest</auto_offset_reset></kafka> in
-- config.d (server-18.16.xml has that section too, and nothing else 24.x needs).
--
--   pixelring.events_queue   Kafka engine: one message = one row, the event's JSON in `raw`
--                            (JSONAsString); a message that is not JSON goes to _error
--   pixelring.events         ReplacingMergeTree: one column per member of the event
--   pixelring.events_mv      materialized view: JSONExtract* of `raw` into pixelring.events
--   pixelring.events_errors  what could not be read, with the reason
--   pixelring.events_errors_mv

CREATE DATABASE IF NOT EXISTS pixelring;

CREATE TABLE IF NOT EXISTS pixelring.events
(
    v                UInt8,
    id               UUID,                           -- the de-duplication key
    ts               DateTime64(3, 'UTC'),
    type             LowCardinality(String),         -- pixel, beacon, rest, redirect
    action           String,                         -- may hold an address (email-open:ann@example.com)
    campaign         LowCardinality(String),         -- '' when null or empty, see campaign_is_null
    campaign_is_null Bool,
    params           Map(String, String),
    params_truncated Bool,
    url              Nullable(String),
    path             Nullable(String),
    page_host        LowCardinality(Nullable(String)),
    referrer         Nullable(String),
    target           Nullable(String),               -- redirects only
    client_ts        Nullable(String),               -- beacons only: a number's text or a string's value
    utm_source       LowCardinality(Nullable(String)),
    utm_medium       LowCardinality(Nullable(String)),
    utm_campaign     LowCardinality(Nullable(String)),
    utm_term         Nullable(String),
    utm_content      Nullable(String),
    visitor          Nullable(FixedString(32)),
    ip               Nullable(String),
    country          LowCardinality(Nullable(String)),
    region           LowCardinality(Nullable(String)),
    city             LowCardinality(Nullable(String)),
    asn              Nullable(UInt32),
    as_org           LowCardinality(Nullable(String)),
    ua               Nullable(String),
    agent            LowCardinality(Nullable(String)),
    device           LowCardinality(Nullable(String)),
    browser          LowCardinality(Nullable(String)),
    os               LowCardinality(Nullable(String)),
    dnt              Nullable(Bool),
    host             LowCardinality(Nullable(String)),
    collector        LowCardinality(String),
    raw              String CODEC(ZSTD(3))           -- the message as received (drop it to save space)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (action, campaign, ts, id);
-- To keep 90 days: ALTER TABLE pixelring.events MODIFY TTL toDateTime(ts) + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS pixelring.events_queue
(
    raw String
)
ENGINE = Kafka
SETTINGS kafka_broker_list = 'localhost:9092',
         kafka_topic_list = 'pixelring.events',
         kafka_group_name = 'clickhouse-pixelring',
         kafka_format = 'JSONAsString',
         kafka_num_consumers = 1,
         kafka_handle_error_mode = 'stream';

CREATE MATERIALIZED VIEW IF NOT EXISTS pixelring.events_mv TO pixelring.events AS
SELECT
    JSONExtract(raw, 'v', 'UInt8') AS v,
    toUUIDOrZero(JSONExtractString(raw, 'id')) AS id,
    parseDateTime64BestEffortOrZero(JSONExtractString(raw, 'ts'), 3, 'UTC') AS ts,
    JSONExtractString(raw, 'type') AS type,
    JSONExtractString(raw, 'action') AS action,
    JSONExtractString(raw, 'campaign') AS campaign,
    JSONExtract(raw, 'campaign', 'Nullable(String)') IS NULL AS campaign_is_null,
    JSONExtract(raw, 'params', 'Map(String, String)') AS params,
    JSONExtractBool(raw, 'params_truncated') AS params_truncated,
    JSONExtract(raw, 'url', 'Nullable(String)') AS url,
    JSONExtract(raw, 'path', 'Nullable(String)') AS path,
    JSONExtract(raw, 'page_host', 'Nullable(String)') AS page_host,
    JSONExtract(raw, 'referrer', 'Nullable(String)') AS referrer,
    JSONExtract(raw, 'target', 'Nullable(String)') AS target,
    multiIf(JSONType(raw, 'client_ts') = 'String', JSONExtractString(raw, 'client_ts'),
            JSONType(raw, 'client_ts') IN ('Int64', 'UInt64', 'Double'), JSONExtractRaw(raw, 'client_ts'),
            NULL) AS client_ts,
    JSONExtract(raw, 'utm', 'source', 'Nullable(String)') AS utm_source,
    JSONExtract(raw, 'utm', 'medium', 'Nullable(String)') AS utm_medium,
    JSONExtract(raw, 'utm', 'campaign', 'Nullable(String)') AS utm_campaign,
    JSONExtract(raw, 'utm', 'term', 'Nullable(String)') AS utm_term,
    JSONExtract(raw, 'utm', 'content', 'Nullable(String)') AS utm_content,
    JSONExtract(raw, 'visitor', 'Nullable(String)') AS visitor,
    JSONExtract(raw, 'ip', 'Nullable(String)') AS ip,
    JSONExtract(raw, 'country', 'Nullable(String)') AS country,
    JSONExtract(raw, 'region', 'Nullable(String)') AS region,
    JSONExtract(raw, 'city', 'Nullable(String)') AS city,
    JSONExtract(raw, 'asn', 'Nullable(UInt32)') AS asn,
    JSONExtract(raw, 'as_org', 'Nullable(String)') AS as_org,
    JSONExtract(raw, 'ua', 'Nullable(String)') AS ua,
    JSONExtract(raw, 'agent', 'Nullable(String)') AS agent,
    JSONExtract(raw, 'device', 'Nullable(String)') AS device,
    JSONExtract(raw, 'browser', 'Nullable(String)') AS browser,
    JSONExtract(raw, 'os', 'Nullable(String)') AS os,
    JSONExtract(raw, 'dnt', 'Nullable(Bool)') AS dnt,
    JSONExtract(raw, 'host', 'Nullable(String)') AS host,
    JSONExtractString(raw, 'collector') AS collector,
    raw
FROM pixelring.events_queue
WHERE length(_error) = 0;

CREATE TABLE IF NOT EXISTS pixelring.events_errors
(
    received     DateTime DEFAULT now(),
    topic        String,
    partition    UInt64,
    offset       UInt64,
    error        String,
    raw_message  String
)
ENGINE = MergeTree
ORDER BY received;

CREATE MATERIALIZED VIEW IF NOT EXISTS pixelring.events_errors_mv TO pixelring.events_errors AS
SELECT _topic AS topic, _partition AS partition, _offset AS offset, _error AS error,
       _raw_message AS raw_message
FROM pixelring.events_queue
WHERE length(_error) > 0;
