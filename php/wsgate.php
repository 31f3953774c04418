<?php
/**
 * wsgate's plain-PHP SDK: no Composer, nothing but a stock php-cli.
 *
 * 1. Hooks for any PHP file. Define any of these in your own file:
 *      function wsAuth(string $host, string $token, string $socket)          // return false to refuse
 *      function wsConnect(string $host, string $token, string $socket)       // return false to close
 *      function wsReceive(string $host, string $token, string $socket, $message) // $message: decoded JSON (or the raw text)
 *      function wsClose(string $host, string $token, string $socket)
 *      function wsCanSubscribe(string $host, string $token, string $socket, string $channel) // hosts with clientChannels; without it, clients may join nothing
 *      function wsWebhook(string $host, string $app, array $events, int $timeMs) // a Pusher app's webhook {"host": ...}; throw to have the batch retried
 *    wsAuth and wsConnect may return ['channels' => [...], 'info' => [...]] to accept and join channels.
 *    and point wsgate at it: { "hooks": "/srv/app/ws.php", "build": false }
 *    What wsReceive prints goes to the socket, line by line, as it is printed.
 *    wsgate runs this file as:
 *      php wsgate.php <hooks.php> websocket::<hook> <host> <token> <socket> [<message>]   (one-shot, build: true)
 *      php wsgate.php <hooks.php> phlo_serve                                            (resident, build: false)
 *
 * 2. wsCast() for any PHP code:  require 'wsgate.php';  wsCast(['alert' => 'hi'], 'token:' . $token);
 *    Also wsSubscribe(), wsUnsubscribe(), wsPresence() and wsHistory().
 *    Settings from the environment: WSGATE_URL (default http://127.0.0.1:3001; unix:/path for a bridge on a unix socket),
 *    WSGATE_HOST (default: the request's Host), WSGATE_SECRET (sent as a bearer token), WSGATE_MAX_ANSWER (the most
 *    bytes a call reads of an answer; 16 MiB unless set). A call's $timeout is one deadline for all of it.
 */

if (!function_exists('wsgate_bridge')) {
    /**
     * One call to wsgate's bridge: $body as JSON (POST) or none (GET); returns
     * the decoded answer. $caller names the function in every error.
     */
    function wsgate_bridge(string $caller, string $path, ?array $body, float $timeout): array
    {
        $base = rtrim(getenv('WSGATE_URL') ?: 'http://127.0.0.1:3001', '/');
        $headers = '';
        $content = '';
        if ($body !== null) {
            $content = json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
            if ($content === false) throw new RuntimeException("$caller: data cannot be encoded as JSON: " . json_last_error_msg());
            $headers = "Content-Type: application/json\r\nContent-Length: " . strlen($content) . "\r\n";
        }
        $secret = (string) getenv('WSGATE_SECRET');
        // Not "if ($secret)": PHP takes "0" for false, and the call went without it.
        if ($secret !== '') {
            // A line break (an .env file saved with CRLF, say) would end the header and start others of its own.
            if (preg_match('/[\x00-\x1f\x7f]/', $secret)) throw new RuntimeException("$caller: WSGATE_SECRET holds a line break or other control character");
            $headers .= "Authorization: Bearer $secret\r\n";
        }
        $method = $body === null ? 'GET' : 'POST';
        [$status, $response] = wsgate_request($caller, $base, $method, $path, $headers, $content, $timeout);
        $answer = json_decode($response, true);
        if ($status !== 200 || !is_array($answer) || ($answer['status'] ?? '') !== 'ok') {
            // What sent us the request's credentials back (a proxy's or a debug server's echo) must not put them in the app's log.
            $url = parse_url($base) ?: [];
            $credentials = [(string) $secret, $url['pass'] ?? '', rawurldecode($url['pass'] ?? '')];
            if (isset($url['user'])) $credentials[] = base64_encode(rawurldecode($url['user']) . ':' . rawurldecode($url['pass'] ?? ''));
            $message = is_array($answer) && isset($answer['message']) ? $answer['message'] : $response;
            throw new RuntimeException("$caller: wsgate answered $status: " . wsgate_answer_text($message, $credentials));
        }
        return $answer;
    }

    /**
     * $value from an answer as one short line of an error: whatever sent it, apps log and show it, so no line breaks or
     * terminal escapes (a forged log line), no more than 200 bytes, and none of $credentials.
     */
    function wsgate_answer_text($value, array $credentials = []): string
    {
        $text = is_string($value) ? $value : (string) json_encode($value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR);
        foreach ($credentials as $credential) {
            if (strlen($credential) >= 4) $text = str_replace($credential, '***', $text);
        }
        $text = trim(preg_replace('/[\x00-\x1f\x7f]+/', ' ', $text));
        if (strlen($text) <= 200) return $text;
        $cut = substr($text, 0, 200);
        // Cut before a character, not inside one.
        if ((ord($text[200]) & 0xc0) === 0x80) $cut = preg_replace('/[\xc0-\xff][\x80-\xbf]*$/', '', $cut);
        return $cut . '…';
    }

    /** $answer, once it holds $names: an "ok" without them (not wsgate, or another version) is this call's error, not the app's warning. */
    function wsgate_fields(string $caller, array $answer, string ...$names): array
    {
        foreach ($names as $name) {
            if (!array_key_exists($name, $answer)) throw new RuntimeException("$caller: wsgate's answer has no \"$name\": " . wsgate_answer_text($answer));
        }
        return $answer;
    }

    /**
     * One HTTP/1.1 request to wsgate on a socket of its own (http://, https:// or unix:/path, WSGATE_URL's path and
     * query before the call's): [status, body]. Not PHP's http wrapper: its timeout is per read, so a server sending a
     * byte at a time held the request as long as it liked, and it reads an answer of any size into memory.
     */
    function wsgate_request(string $caller, string $base, string $method, string $path, string $headers, string $content, float $timeout): array
    {
        $deadline = microtime(true) + $timeout;
        // Unset, zero or negative (a typo) is the default: every answer "more than -5 bytes" would help no one.
        $max = (int) getenv('WSGATE_MAX_ANSWER');
        if ($max <= 0) $max = 16 << 20;
        $context = [];
        // A bridge on a unix socket ("bridge": {"path": ...}): wsgate gives hooks WSGATE_URL=unix:<path>.
        if (strncmp($base, 'unix:', 5) === 0) {
            $address = 'unix://' . preg_replace('#^unix:(//)?#', '', $base);
            [$host, $target, $shown] = ['localhost', $path, wsgate_mask_url($base)];
        } else {
            $url = parse_url($base);
            $scheme = strtolower($url['scheme'] ?? '');
            if (!isset($url['host']) || ($scheme !== 'http' && $scheme !== 'https')) {
                throw new RuntimeException("$caller: WSGATE_URL is not an http://, https:// or unix: URL: " . wsgate_mask_url($base));
            }
            $port = $url['port'] ?? ($scheme === 'https' ? 443 : 80);
            $host = $url['host'] . (isset($url['port']) ? ":$port" : '');
            [$callPath, $callQuery] = array_pad(explode('?', $path, 2), 2, '');
            $query = implode('&', array_filter([$url['query'] ?? '', $callQuery], 'strlen'));
            $target = rtrim($url['path'] ?? '', '/') . $callPath . ($query === '' ? '' : "?$query");
            $shown = wsgate_mask_url("$scheme://" . (isset($url['user']) ? "$url[user]@" : '') . $host . $target);
            $address = ($scheme === 'https' ? 'tls://' : 'tcp://') . "$url[host]:$port";
            $context = ['ssl' => ['peer_name' => trim($url['host'], '[]')]];
            // As PHP's http wrapper did: user:pass@ in the URL is Basic auth, unless WSGATE_SECRET is the Authorization.
            if (isset($url['user']) && stripos($headers, 'Authorization:') === false) {
                $headers .= 'Authorization: Basic ' . base64_encode(rawurldecode($url['user']) . ':' . rawurldecode($url['pass'] ?? '')) . "\r\n";
            }
        }
        if (preg_match('/[\x00-\x20\x7f]/', $host . $target)) throw new RuntimeException("$caller: WSGATE_URL holds a space or control character: $shown");
        $error = null;
        // Warnings (a refused connect, a broken pipe) become this call's error, not a notice for the app.
        set_error_handler(function ($no, $message) use (&$error) { $error = preg_replace('/^\w+\(\): /', '', $message); return true; });
        try {
            $socket = stream_socket_client($address, $errno, $errstr, max(0.001, $deadline - microtime(true)), STREAM_CLIENT_CONNECT, stream_context_create($context));
            if ($socket === false) throw new RuntimeException("$caller: wsgate is not reachable at $shown: " . ($errstr ?: (string) $error));
            try {
                $raw = wsgate_exchange($socket, "$method $target HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n$headers\r\n$content", $deadline, $max);
            } finally {
                fclose($socket);
            }
        } finally {
            restore_error_handler();
        }
        if ($raw === null) throw new RuntimeException("$caller: wsgate at $shown did not answer within $timeout s");
        if ($raw === false) throw new RuntimeException("$caller: wsgate at $shown answered more than $max bytes");
        $split = strpos($raw, "\r\n\r\n");
        if ($split === false || !preg_match('#^HTTP/\S+ (\d{3})#', $raw, $m)) throw new RuntimeException("$caller: wsgate at $shown sent no HTTP answer" . ($error ? ": $error" : ''));
        $head = substr($raw, 0, $split);
        $response = substr($raw, $split + 4);
        if (preg_match('/^transfer-encoding:\s*chunked/im', $head)) {
            $body = '';
            for ($at = 0; ($eol = strpos($response, "\r\n", $at)) !== false && preg_match('/^[0-9a-f]{1,8}/i', substr($response, $at, 8), $hex) && ($size = hexdec($hex[0])) > 0; $at = $eol + 4 + $size) {
                $body .= substr($response, $eol + 2, $size);
            }
            $response = $body;
        } elseif (preg_match('/^content-length:\s*(\d+)/im', $head, $length)) {
            $response = substr($response, 0, (int) $length[1]);
        }
        return [(int) $m[1], $response];
    }

    /**
     * Writes $request and reads the answer, all before $deadline: the answer, null when the deadline passed first,
     * false when it grew past $max bytes (or says it will, by its Content-Length).
     */
    function wsgate_exchange($socket, string $request, float $deadline, int $max)
    {
        $wait = function () use ($socket, $deadline) {
            $left = $deadline - microtime(true);
            if ($left <= 0) return false;
            stream_set_timeout($socket, (int) $left, (int) (fmod($left, 1) * 1e6));
            return true;
        };
        // A write cut short (wsgate answered early, say 413, and closed) still leaves its answer to read.
        for ($sent = 0; $sent < strlen($request) && $wait(); $sent += $wrote) {
            $wrote = fwrite($socket, substr($request, $sent));
            if ($wrote === false || $wrote === 0) break;
        }
        [$raw, $split, $length, $next] = ['', false, null, null];
        while (true) {
            if (!$wait()) return null;
            $chunk = fread($socket, 65536);
            if (stream_get_meta_data($socket)['timed_out']) return null;
            if ($chunk === false || ($chunk === '' && feof($socket))) return $raw;
            $raw .= $chunk;
            if (strlen($raw) > $max) return false;
            if ($split === false && ($split = strpos($raw, "\r\n\r\n", max(0, strlen($raw) - strlen($chunk) - 3))) !== false) {
                // A server that keeps the connection open despite "close" has answered once its body is in: by its
                // Content-Length, or by the last chunk of a chunked body (which has none).
                $head = substr($raw, 0, $split);
                if (preg_match('/^transfer-encoding:\s*chunked/im', $head)) $next = $split + 4;
                else $length = preg_match('/^content-length:\s*(\d+)/im', $head, $m) ? (float) $m[1] : null;
                if ($length !== null && $split + 4 + $length > $max) return false;
            }
            if ($length !== null && strlen($raw) - $split - 4 >= $length) return $raw;
            if ($next !== null && ($next = wsgate_chunks_end($raw, $next)) === true) return $raw;
        }
    }

    /**
     * Where the chunk of $raw that starts at $at ends: past the chunks complete so far (each walked once), true once
     * the last chunk and its trailer are in, or null for what is not a chunked body (then read on to the close).
     */
    function wsgate_chunks_end(string $raw, int $at)
    {
        // A size line or trailer is a few bytes: one without end is not searched again on every read up to the bound.
        $far = function ($found, int $from, int $most) use ($raw) { return $found === false ? strlen($raw) - $from > $most : $found - $from > $most; };
        while (true) {
            $eol = strpos($raw, "\r\n", $at);
            if ($far($eol, $at, 1024)) return null;
            if ($eol === false) return $at;
            if (!preg_match('/^[0-9a-f]{1,8}(?=[;\s]|$)/i', substr($raw, $at, $eol - $at), $hex)) return null;
            $size = hexdec($hex[0]);
            if ($size === 0) {
                $end = strpos($raw, "\r\n\r\n", $eol);
                if ($far($end, $eol, 8192)) return null;
                return $end === false ? $at : true;
            }
            if (strlen($raw) < $eol + 4 + $size) return $at;
            $at = $eol + 4 + $size;
        }
    }

    /**
     * $url as errors show it: where it points, without what a URL can carry to get in (user info, and query
     * values named like secrets), as apps log and show these errors.
     */
    function wsgate_mask_url(string $url): string
    {
        $url = preg_replace('#^([a-z][a-z0-9+.-]*://)[^/?\#]*@#i', '$1***@', $url);
        return preg_replace_callback('/([?&;])([^=&;#]*)=([^&;#]*)/', function (array $m) {
            return preg_match('/secret|token|key|pass|pwd|auth|sig|cred|session/i', urldecode($m[2])) ? "$m[1]$m[2]=***" : $m[0];
        }, $url);
    }

    /** The host a call is for: given, WSGATE_HOST, or the web request's Host. */
    function wsgate_host(string $caller, ?string $host): string
    {
        $host = $host ?? (getenv('WSGATE_HOST') ?: ($_SERVER['HTTP_HOST'] ?? null));
        if ($host === null || $host === '') {
            throw new RuntimeException("$caller: no host: pass it, set WSGATE_HOST, or call it from a web request");
        }
        return $host;
    }
}

if (!function_exists('wsCast')) {
    /**
     * Sends $data (any JSON value) to sockets through wsgate's /message.
     * $target: 'all', 'token:<t>', 'token:not:<t>', 'socket:<id>', 'channel:<name>', or a list of socket ids.
     * Returns how many sockets got it; throws RuntimeException when wsgate is
     * unreachable, too slow ($timeout seconds), or refuses the cast.
     */
    function wsCast($data, $target = 'all', string $except = '', ?string $host = null, float $timeout = 5.0): int
    {
        $body = ['host' => wsgate_host('wsCast', $host), 'target' => $target, 'except' => $except, 'data' => $data];
        return (int) wsgate_fields('wsCast', wsgate_bridge('wsCast', '/message', $body, $timeout), 'sent')['sent'];
    }
}

if (!function_exists('wsSubscribe')) {
    /** Every socket $target picks (e.g. 'token:<t>' for all of a user's tabs) joins $channel; returns how many joined. */
    function wsSubscribe(string $channel, $target, ?string $host = null, float $timeout = 5.0): int
    {
        $body = ['host' => wsgate_host('wsSubscribe', $host), 'target' => $target, 'channel' => $channel];
        return (int) wsgate_fields('wsSubscribe', wsgate_bridge('wsSubscribe', '/subscribe', $body, $timeout), 'joined')['joined'];
    }

    /** Every socket $target picks leaves $channel; returns how many left. */
    function wsUnsubscribe(string $channel, $target, ?string $host = null, float $timeout = 5.0): int
    {
        $body = ['host' => wsgate_host('wsUnsubscribe', $host), 'target' => $target, 'channel' => $channel];
        return (int) wsgate_fields('wsUnsubscribe', wsgate_bridge('wsUnsubscribe', '/unsubscribe', $body, $timeout), 'left')['left'];
    }

    /**
     * Who is in $channel: ['sockets' => n, 'tokens' => [sha256 => n],
     * 'members' => [['socket' => id, 'token' => sha256, 'info' => ...], ...]].
     */
    function wsPresence(string $channel, ?string $host = null, float $timeout = 5.0): array
    {
        $query = http_build_query(['host' => wsgate_host('wsPresence', $host), 'channel' => $channel]);
        $answer = wsgate_fields('wsPresence', wsgate_bridge('wsPresence', "/presence?$query", null, $timeout), 'sockets', 'tokens', 'members');
        return ['sockets' => $answer['sockets'], 'tokens' => $answer['tokens'], 'members' => $answer['members']];
    }

    /**
     * Recent publications of $channel ('@all' for host-wide casts), for a
     * channel with "history": ['epoch' => e, 'offset' => newest,
     * 'publications' => [['offset' => n, 'data' => ...], ...]]. With $since
     * (['epoch' => e, 'offset' => n]) only those after it, and 'recovered'
     * says whether they are all that came after it.
     */
    function wsHistory(string $channel, ?array $since = null, ?string $host = null, float $timeout = 5.0): array
    {
        $query = ['host' => wsgate_host('wsHistory', $host), 'channel' => $channel];
        if ($since !== null) $query += ['since' => (int) $since['offset'], 'epoch' => (string) $since['epoch']];
        $answer = wsgate_fields('wsHistory', wsgate_bridge('wsHistory', '/history?' . http_build_query($query), null, $timeout), 'publications');
        unset($answer['status'], $answer['host'], $answer['channel']);
        return $answer;
    }
}

// Guarded like wsCast(): a hooks file may require its own copy of this file for wsCast().
if (!function_exists('wsgate_run_hook')) {
/** Runs one hook of the user's file; returns its result. Output goes wherever it is buffered to. */
function wsgate_run_hook(string $target, array $args)
{
    $names = ['websocket::auth' => 'wsAuth', 'websocket::connect' => 'wsConnect', 'websocket::receive' => 'wsReceive', 'websocket::close' => 'wsClose', 'websocket::subscribe' => 'wsCanSubscribe', 'websocket::webhook' => 'wsWebhook'];
    if (!isset($names[$target])) throw new RuntimeException("unknown target $target");
    $function = $names[$target];
    // A client may join a channel only when the app says so; a webhook batch must not be taken as delivered when nothing took it.
    if (!function_exists($function)) {
        if ($target === 'websocket::webhook') throw new RuntimeException('wsWebhook() is not defined in the hooks file');
        return $target === 'websocket::subscribe' ? false : null;
    }
    if ($target === 'websocket::webhook') {
        [$host, $app, , $body] = array_map('strval', array_pad($args, 4, ''));
        $batch = json_decode($body, true);
        if (!is_array($batch) || !is_array($batch['events'] ?? null)) throw new RuntimeException('wsgate sent a webhook batch this SDK cannot read');
        return $function($host, $app, $batch['events'], (int) ($batch['time_ms'] ?? 0));
    }
    if ($target === 'websocket::subscribe') return $function(...array_map('strval', array_pad($args, 4, '')));
    [$host, $token, $socket] = array_map('strval', array_pad($args, 3, ''));
    if ($target === 'websocket::receive') {
        $text = (string) ($args[3] ?? '');
        $decoded = json_decode($text, true);
        return $function($host, $token, $socket, json_last_error() === JSON_ERROR_NONE ? $decoded : $text);
    }
    return $function($host, $token, $socket);
}

/**
 * The resident loop: one JSON job per stdin line, answered on STDOUT (which
 * output buffering does not touch). It reads jobs strictly one after another,
 * so it tells the gateway it may send the next before this one is answered.
 */
function wsgate_serve(): void
{
    $send = function (array $frame) {
        // Invalid UTF-8 becomes U+FFFD, as in one-shot output. A frame that still cannot be encoded (a result with INF,
        // or nested too deep) goes as its job's error: a lost answer would leave the gateway taking the next job's for it.
        $json = json_encode($frame, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE);
        if ($json === false) $json = json_encode(['id' => $frame['id'] ?? null, 't' => 'error', 'message' => 'the result cannot be encoded as JSON: ' . json_last_error_msg()]);
        fwrite(STDOUT, $json . "\n");
    };
    // The longest line wsgate takes (limits.hookLine; 1 MiB unless set).
    $maxLine = (int) getenv('WSGATE_HOOK_LINE') ?: 1 << 20;
    $send(['t' => 'ready', 'pipeline' => true]);
    while (($line = fgets(STDIN)) !== false) {
        $job = json_decode($line, true);
        if (!is_array($job) || !isset($job['id'], $job['target'])) {
            $send(['t' => 'fatal', 'message' => 'wsgate sent a job this SDK cannot read']);
            exit(1);
        }
        $id = $job['id'];
        $stream = !empty($job['stream']);
        $pending = '';
        // Whatever the hook prints is cut into lines and streamed as they complete. Buffers the hook opens and leaves
        // open are closed into it after the job, as PHP's exit closes them for a one-shot hook: else what they hold
        // would be lost, and they would pile up job after job.
        $level = ob_get_level();
        ob_start(function (string $chunk) use (&$pending, $send, $id, $stream, $maxLine) {
            if (!$stream) return '';
            $pending .= $chunk;
            // Only a chunk with a newline can end a line: searching what is pending on every echo would be quadratic.
            while (strpos($chunk, "\n") !== false && ($nl = strpos($pending, "\n")) !== false) {
                $send(['id' => $id, 't' => 'line', 'data' => rtrim(substr($pending, 0, $nl), "\r")]);
                $pending = substr($pending, $nl + 1);
            }
            // A line already longer than wsgate takes goes now (wsgate then ends this worker, as it ends a one-shot hook
            // printing it): kept until its end, it could fill PHP's memory.
            if (strlen($pending) > $maxLine) {
                $send(['id' => $id, 't' => 'line', 'data' => $pending]);
                $pending = '';
            }
            return '';
        }, 1);
        try {
            $result = wsgate_run_hook($job['target'], $job['args'] ?? []);
            while (ob_get_level() > $level) ob_end_flush();
            if ($stream && $pending !== '') $send(['id' => $id, 't' => 'line', 'data' => $pending]);
            $send(['id' => $id, 't' => 'done', 'result' => $result]);
        } catch (Throwable $e) {
            while (ob_get_level() > $level) ob_end_flush();
            if ($stream && $pending !== '') $send(['id' => $id, 't' => 'line', 'data' => $pending]);
            // With the answer, not on STDERR: the two pipes have no order between them, and read after the answer it
            // would be logged with the next job.
            $where = get_class($e) . ': ' . $e->getMessage() . ' in ' . $e->getFile() . ':' . $e->getLine();
            $send(['id' => $id, 't' => 'error', 'message' => $e->getMessage(), 'stderr' => $where]);
        }
    }
}
}

// Run as wsgate's hook runner only when this file is the script itself, not when an app requires it for wsCast().
if (PHP_SAPI === 'cli' && isset($argv[0]) && realpath($argv[0]) === __FILE__) {
    $hooks = $argv[1] ?? '';
    if ($hooks === '' || !is_file($hooks)) {
        fwrite(STDERR, "wsgate.php: expected the hooks file as the first argument, got '$hooks'\n");
        exit(2);
    }
    // stdout is a one-shot hook's verdict, the socket's lines, or the worker protocol: PHP's warnings (which a client's token
    // or message can trip, and which name files and code) go to the log, once (log_errors already writes them to stderr).
    ini_set('display_errors', ini_get('log_errors') ? '0' : 'stderr');
    // A verdict is what the hook returns, as with resident workers: what it or the hooks file prints is dropped, or it
    // would be taken for acceptance (anything but "false" is). Ending PHP instead of returning (exit, die('forbidden'),
    // a file's own "or die" guard) refuses.
    $wsgate_verdict = in_array($argv[2] ?? '', ['websocket::auth', 'websocket::connect', 'websocket::subscribe'], true);
    $wsgate_returned = false;
    if ($wsgate_verdict) {
        ob_start(function () { return ''; });
        register_shutdown_function(function () use (&$wsgate_returned) {
            if ($wsgate_returned) return;
            fwrite(STDERR, "wsgate.php: the hooks ended PHP (exit or die) without returning a verdict: refused\n");
            exit(1);
        });
    }
    // Read before the hooks file runs in this scope and may reuse the names.
    [$wsgate_target, $wsgate_args] = [$argv[2] ?? '', array_slice($argv, 3)];
    require $hooks;
    if ($wsgate_target === 'phlo_serve') {
        wsgate_serve();
        exit(0);
    }
    try {
        $result = wsgate_run_hook($wsgate_target, $wsgate_args);
    } catch (Throwable $e) {
        $wsgate_returned = true; // refused by the exit code
        fwrite(STDERR, get_class($e) . ': ' . $e->getMessage() . ' in ' . $e->getFile() . ':' . $e->getLine() . "\n");
        exit(1);
    }
    $wsgate_returned = true;
    if ($wsgate_verdict) {
        while (ob_get_level() > 0) ob_end_clean();
        if ($result === false) echo "false\n";
        elseif (is_array($result)) echo json_encode($result, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE), "\n";
    }
}
