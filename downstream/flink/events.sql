-- pixelring events from Kafka, and visitor sessions (30 minutes of inactivity end one).
-- Flink 1.19 or later (SESSION window table-valued function), with the Kafka SQL connector
-- jar in lib/. See README.md. The columns follow ../event.schema.json; ../tests/check_specs.py
-- checks that they do.

-- Window bounds are TIMESTAMP (no zone) computed in the session time zone: keep them in UTC,
-- as the event's ts is.
SET 'table.local-time-zone' = 'UTC';
-- A partition that receives nothing (few keys, a quiet night) must not hold back the
-- watermark of the whole source.
SET 'table.exec.source.idle-timeout' = '1 min';

CREATE TABLE pixelring_events (
  `v`                INT,
  `id`               STRING,
  -- "2026-11-22T10:35:00.123Z": with the ISO-8601 standard below, Flink's JSON format reads
  -- TIMESTAMP_LTZ as date 'T' time with a literal Z, which is exactly this shape.
  `ts`               TIMESTAMP_LTZ(3),
  `type`             STRING,
  `action`           STRING,
  `campaign`         STRING,
  `params`           MAP<STRING, STRING>,
  `params_truncated` BOOLEAN,
  `url`              STRING,
  `path`             STRING,
  `page_host`        STRING,
  `referrer`         STRING,
  `target`           STRING,
  -- A JSON number or a string, as the client sent it: STRING takes both (a number arrives
  -- as its JSON text).
  `client_ts`        STRING,
  `utm`              ROW<`source` STRING, `medium` STRING, `campaign` STRING, `term` STRING, `content` STRING>,
  `visitor`          STRING,
  `ip`               STRING,
  `country`          STRING,
  `region`           STRING,
  `city`             STRING,
  -- Up to 4294967295: beyond INT.
  `asn`              BIGINT,
  `as_org`           STRING,
  `ua`               STRING,
  `agent`            STRING,
  `device`           STRING,
  `browser`          STRING,
  `os`               STRING,
  `dnt`              BOOLEAN,
  `host`             STRING,
  `collector`        STRING,
  -- Where the message sits, to find a duplicate's two copies.
  `kafka_partition`  INT METADATA FROM 'partition' VIRTUAL,
  `kafka_offset`     BIGINT METADATA FROM 'offset' VIRTUAL,
  -- Hits within a partition arrive in ts order but for the collector's workers racing by a
  -- few milliseconds, and a spool replay keeps the order of each key's events. 5 s leaves
  -- room for both without delaying results much.
  WATERMARK FOR `ts` AS `ts` - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = 'pixelring.events',
  'properties.bootstrap.servers' = 'kafka:9092',
  'properties.group.id' = 'pixelring-sessions',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601',
  -- Optional members (utm, visitor, the GeoIP ones, ...) are absent rather than null.
  'json.fail-on-missing-field' = 'false',
  -- The collector writes only events valid against the schema. A message that does not
  -- parse is a broken contract: stop the job rather than turn it into a row of NULLs (a
  -- NULL ts would fail the watermark anyway).
  'json.ignore-parse-errors' = 'false'
);

-- The hits that can make a session: a visitor id exists (not with DNT, not without
-- enrichment) and a browser sent them (bots, mail image proxies, prefetches and link
-- scanners do not browse).
CREATE TEMPORARY VIEW visitor_hits AS
SELECT `visitor`, `ts`, `type`, `path`, `page_host`
FROM pixelring_events
WHERE `visitor` IS NOT NULL AND `agent` = 'browser';

-- One row per session.
CREATE TABLE visitor_sessions (
  `visitor`         STRING,
  `session_start`   TIMESTAMP(3),
  `session_end`     TIMESTAMP(3),
  `first_hit`       TIMESTAMP_LTZ(3),
  `last_hit`        TIMESTAMP_LTZ(3),
  `length_s`        INT,
  `hits`            BIGINT,
  `pageviews`       BIGINT,
  `pages`           BIGINT
) WITH (
  'connector' = 'print'
);

-- session_end is the last hit plus the 30-minute gap; the session's length is last hit
-- minus first hit (0 for a single hit). A pageview is a pixel with a page: a pixel embedded
-- in a web page carries the page in its Referer, while an email-open pixel has none.
INSERT INTO visitor_sessions
SELECT
  `visitor`,
  window_start,
  window_end,
  MIN(`ts`),
  MAX(`ts`),
  TIMESTAMPDIFF(SECOND, MIN(`ts`), MAX(`ts`)),
  COUNT(*),
  CAST(SUM(CASE WHEN `type` = 'pixel' AND `path` IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT),
  COUNT(DISTINCT CASE WHEN `type` = 'pixel' AND `path` IS NOT NULL THEN CONCAT(`page_host`, `path`) END)
FROM TABLE(
  SESSION(TABLE visitor_hits PARTITION BY `visitor`, DESCRIPTOR(`ts`), INTERVAL '30' MINUTES))
GROUP BY `visitor`, window_start, window_end;

-- Before Flink 1.19 the same with the legacy group window:
--   SELECT `visitor`,
--          SESSION_START(`ts`, INTERVAL '30' MINUTE), SESSION_END(`ts`, INTERVAL '30' MINUTE),
--          MIN(`ts`), MAX(`ts`), TIMESTAMPDIFF(SECOND, MIN(`ts`), MAX(`ts`)), COUNT(*), ...
--   FROM visitor_hits
--   GROUP BY `visitor`, SESSION(`ts`, INTERVAL '30' MINUTE);
