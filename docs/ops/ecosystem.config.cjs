/**
 * wsgate under pm2.
 *
 *   pm2 start ecosystem.config.cjs           # the binary, /usr/local/bin/wsgate
 *   WSGATE_FROM_SOURCE=1 pm2 start ecosystem.config.cjs   # a checkout in /opt/wsgate, on Node
 *   pm2 save && pm2 startup                  # start again at boot
 *
 * Reload (new config, new PHP code, every socket kept):
 *
 *   pm2 sendSignal SIGHUP wsgate             # or: wsgate reload
 *
 * NOT `pm2 reload wsgate` or `pm2 restart wsgate`: for a single fork-mode
 * process both stop it and start it again, which closes every socket (1001).
 *
 * The secret: put "secret" in /etc/wsgate/wsgate.json (chmod 0640) rather
 * than in `env` below or the shell that runs pm2: `pm2 save` writes a
 * process's environment in clear to ~/.pm2/dump.pm2.
 *
 * Descriptors: the process inherits the pm2 daemon's limit. `ulimit -n
 * 1048576` in the shell that first starts pm2, or LimitNOFILE=1048576 in the
 * unit `pm2 startup` writes (see sysctl-wsgate.conf).
 */

const config = '/etc/wsgate/wsgate.json';

const common = {
  name: 'wsgate',
  args: ['serve', '--config', config],
  // One process. pm2's cluster mode would start several Node processes
  // sharing the port, each with its own sockets; several nodes belong
  // behind a proxy with "cluster" (Redis) in the config instead.
  exec_mode: 'fork',
  // pm2 stops with SIGINT, which wsgate handles like SIGTERM: close every
  // socket with 1001 and wait for the close hooks, up to "shutdownTimeout"
  // (10 s). pm2's default of 1.6 s before SIGKILL would cut those hooks off.
  // Keep this above shutdownTimeout.
  kill_timeout: 20000,
  // By default pm2 signals the whole process tree at once, so resident PHP
  // workers die before they can run those close hooks. wsgate alone gets
  // the signal; it stops its workers itself once the hooks are done.
  treekill: false,
  // Exit 2 is a usage or config error: restarting cannot fix it.
  stop_exit_codes: [2],
  restart_delay: 2000,
  // Watching restarts the process on a file change, dropping every socket
  // (so would max_memory_restart, left out for that reason). For new PHP
  // code or config, `pm2 sendSignal SIGHUP wsgate`.
  watch: false,
  // wsgate writes every log line to stderr with its own timestamp, so pm2
  // files them all under ~/.pm2/logs/wsgate-error.log; that name does not
  // mean errors. Rotate with the pm2-logrotate module.
  time: false,
  env: {
    // One JSON object per line, for log shippers (the default is key=value).
    WSGATE_LOG_FORMAT: 'json',
  },
};

const binary = {
  ...common,
  script: '/usr/local/bin/wsgate',
  // A compiled executable: pm2 must run it as is, not through Node.
  interpreter: 'none',
};

const fromSource = {
  ...common,
  cwd: '/opt/wsgate',
  // Node itself as the program, not pm2's Node wrapper and not the npm
  // script bin/wsgate.mjs: both would leave a process between pm2 and the
  // gateway, and a SIGHUP meant for the gateway would hit that one instead.
  // `--import tsx` is resolved from cwd, hence /opt/wsgate (after `npm ci`).
  script: 'node',
  interpreter: 'none',
  args: ['--import', 'tsx', 'src/main.ts', ...common.args],
};

module.exports = {
  apps: [process.env.WSGATE_FROM_SOURCE === '1' ? fromSource : binary],
};
