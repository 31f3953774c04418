<?php
// Bench app for scripts/bench/roundtrip.ts and upgrades.ts: as cheap as PHP allows,
// both ways a Phlo app is driven.
//   one-shot:  php echo.php websocket::<hook> <host> <token> <socket> [<message>]
//              auth prints `true`; receive prints the message as one line; connect/close print nothing
//   resident:  php echo.php phlo_serve   (newline-delimited JSON jobs on stdin)
//              receive answers one line frame (the message) and done, in a single write; every other hook: done

if (($argv[1] ?? '') === 'phlo_serve') {
    // Jobs are read one after another, so the gateway may send the next early (WSGATE_BENCH_PIPELINE=0: the old protocol's one at a time).
    fwrite(STDOUT, getenv('WSGATE_BENCH_PIPELINE') === '0' ? "{\"t\":\"ready\"}\n" : "{\"t\":\"ready\",\"pipeline\":true}\n");
    while (($line = fgets(STDIN)) !== false) {
        $job = json_decode($line, true);
        if (!is_array($job)) continue;
        $id = json_encode($job['id']);
        $target = $job['target'];
        if ($target === 'websocket::receive') {
            $data = $job['stream'] ? '{"id":' . $id . ',"t":"line","data":' . json_encode((string) ($job['args'][3] ?? ''), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . "}\n" : '';
            fwrite(STDOUT, $data . '{"id":' . $id . ',"t":"done","result":null}' . "\n");
        } elseif ($target === 'websocket::auth') {
            fwrite(STDOUT, '{"id":' . $id . ',"t":"done","result":true}' . "\n");
        } else {
            fwrite(STDOUT, '{"id":' . $id . ',"t":"done","result":null}' . "\n");
        }
    }
    exit(0);
}

switch ($argv[1] ?? '') {
    case 'websocket::auth':
        echo "true\n";
        break;
    case 'websocket::receive':
        echo $argv[5] ?? '', "\n";
        break;
}
