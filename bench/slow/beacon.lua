-- The legitimate beacon of bench/slow/run.sh: what navigator.sendBeacon sends, whole.
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
wrk.headers["Origin"] = "https://example.com"
wrk.body = '{"action":"signup","params":{"plan":"pro","step":"3"}}'
