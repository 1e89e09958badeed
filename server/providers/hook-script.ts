/**
 * The one lifecycle hook script for Apache httpd, with two executors: the SSM document `Rotor-RunHook`
 * embeds this very text (server/providers/aws/ssm.ts), and the local Apache fleet runs it with `sh`
 * (server/fleet/apache/executor.ts). A bug here fails a local test before it fails a deploy.
 *
 * Input, as environment variables only (SSM's `interpolationType: ENV_VAR`; never pasted into the text):
 *   SSM_Hook     stop | deploy | start | verify | probe | version
 *   SSM_Version  the release (deploy, verify); refused unless it starts with a letter or digit, then
 *                letters, digits and . _ + -, 1–128 characters; checked before anything is touched.
 * Settings (defaults fit a stock Debian or Amazon Linux Apache):
 *   ROTOR_APACHE_CONF         own config file: control with `$ROTOR_APACHE_BIN -f CONF -k …` (else `apachectl`)
 *   ROTOR_APACHE_BIN          apache2 (with ROTOR_APACHE_CONF)
 *   ROTOR_APACHE_PIDFILE      the parent's pid file (default: the distribution's, whichever exists)
 *   ROTOR_SYSTEMD_UNIT        under systemd, the unit `apachectl start` starts (apache2 or httpd; found
 *                             when unset and systemd runs). `systemctl start` does nothing while the old
 *                             unit is still stopping, so start waits for the unit to leave `deactivating`.
 *   ROTOR_PORT                80: start succeeds once Apache answers on 127.0.0.1:PORT
 *   ROTOR_GRACEFUL_TIMEOUT    seconds, as GracefulShutdownTimeout (30): how long stop waits for the old parent
 *   ROTOR_START_TIMEOUT       seconds (30)
 *   ROTOR_APP_DIR             /var/www/rotor: releases in `releases/VERSION`, served through the `current` link
 *   ROTOR_HEALTH_URL, ROTOR_VERSION_URL  default http://127.0.0.1:PORT/health and /version
 *   ROTOR_VERIFY_WARMUP       seconds (30): verify retries health and version this long
 *
 * Hooks: stop = graceful-stop, then wait until the old parent has exited (graceful-stop only signals);
 * deploy = switch `current` to the release; start = start, then wait until the new parent answers;
 * verify = health 2xx and version equal to SSM_Version, retried through a warm-up; it prints
 * `rotor-version=<observed>` for Rotor; version = the same line for an instance whose version Rotor
 * does not know (no version tag), read from ROTOR_VERSION_URL. Exit 0 success, 1 failure, 64 refused input (nothing was
 * changed: HOOK_REFUSED_EXIT), 3 no parameters.
 */

import { versionShellCheck } from "@/lib/validation/version";

/** Where configured commands replace built-in hooks (the AWS document's overrides). */
const HOOK_OVERRIDES_MARKER = "# rotor: configured hooks";
/** Where configured settings go: before the defaults, so they win over them. */
const SETTINGS_MARKER = "# rotor: configured settings";

/** The one version rule, as the shell lines lib/validation builds from it. */
const versionCheck = versionShellCheck("SSM_Version").join("\n");

const SCRIPT = String.raw`#!/bin/sh
# Rotor lifecycle hook for Apache httpd. Parameters arrive as SSM_Hook and SSM_Version (data, never text).
LC_ALL=C
export LC_ALL
rotor_fail() { code=$1; shift; echo "rotor: $*" >&2; exit "$code"; }

if [ -z "${"${SSM_Hook:-}"}" ] || [ -z "${"${SSM_Version:-}"}" ]; then
  rotor_fail 3 "SSM agent did not pass parameters as environment variables (needs agent 3.3.2746.0+)"
fi
${versionCheck}

${SETTINGS_MARKER}

ROTOR_PORT="${"${ROTOR_PORT:-80}"}"
ROTOR_GRACEFUL_TIMEOUT="${"${ROTOR_GRACEFUL_TIMEOUT:-30}"}"
ROTOR_START_TIMEOUT="${"${ROTOR_START_TIMEOUT:-30}"}"
ROTOR_VERIFY_WARMUP="${"${ROTOR_VERIFY_WARMUP:-30}"}"
ROTOR_APP_DIR="${"${ROTOR_APP_DIR:-/var/www/rotor}"}"
ROTOR_HEALTH_URL="${"${ROTOR_HEALTH_URL:-http://127.0.0.1:$ROTOR_PORT/health}"}"
ROTOR_VERSION_URL="${"${ROTOR_VERSION_URL:-http://127.0.0.1:$ROTOR_PORT/version}"}"
if [ -z "${"${ROTOR_APACHE_PIDFILE:-}"}" ]; then
  for f in /run/apache2/apache2.pid /var/run/apache2/apache2.pid /run/httpd/httpd.pid /var/run/httpd/httpd.pid; do
    if [ -f "$f" ]; then ROTOR_APACHE_PIDFILE=$f; break; fi
  done
fi
if [ -z "${"${ROTOR_APACHE_CONF:-}"}" ] && [ -z "${"${ROTOR_SYSTEMD_UNIT:-}"}" ] && [ -d /run/systemd/system ]; then
  for u in apache2 httpd; do
    if systemctl cat "$u.service" >/dev/null 2>&1; then ROTOR_SYSTEMD_UNIT=$u; break; fi
  done
fi

rotor_ctl() {
  if [ -n "${"${ROTOR_APACHE_CONF:-}"}" ]; then "${"${ROTOR_APACHE_BIN:-apache2}"}" -f "$ROTOR_APACHE_CONF" "$@"
  else "${"${ROTOR_APACHECTL:-apachectl}"}" "$@"; fi
}

# A process that has exited but is not yet reaped (a zombie) counts as gone.
rotor_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != "Z" ]
}

# The running parent's pid, or nothing.
rotor_pid() {
  [ -n "${"${ROTOR_APACHE_PIDFILE:-}"}" ] && [ -f "$ROTOR_APACHE_PIDFILE" ] || return 0
  p=$(tr -cd '0-9' < "$ROTOR_APACHE_PIDFILE" 2>/dev/null)
  if [ -n "$p" ] && rotor_alive "$p"; then echo "$p"; fi
}

rotor_answers() {
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$ROTOR_PORT/" 2>/dev/null)
  [ -n "$code" ] && [ "$code" != "000" ]
}

# Waits up to $2 seconds for pid $1 to exit; polls every 50 ms.
rotor_wait_gone() {
  n=$(($2 * 20))
  while rotor_alive "$1"; do
    [ "$n" -gt 0 ] || return 1
    n=$((n - 1))
    sleep 0.05
  done
}

rotor_stop() {
  pid=$(rotor_pid)
  if [ -z "$pid" ]; then echo "rotor: Apache is not running"; return 0; fi
  echo "rotor: graceful-stop of Apache (parent pid $pid): children finish their current request"
  rotor_ctl -k graceful-stop || rotor_fail 1 "graceful-stop failed"
  # graceful-stop only sends the signal: the old parent lives until its last request is done.
  if ! rotor_wait_gone "$pid" $((ROTOR_GRACEFUL_TIMEOUT + 5)); then
    rotor_fail 1 "Apache (parent pid $pid) is still running $((ROTOR_GRACEFUL_TIMEOUT + 5)) s after graceful-stop (GracefulShutdownTimeout $ROTOR_GRACEFUL_TIMEOUT s)"
  fi
  echo "rotor: Apache stopped (parent pid $pid exited)"
}

rotor_deploy() {
  release="$ROTOR_APP_DIR/releases/$SSM_Version"
  [ -d "$release" ] || rotor_fail 1 "release $SSM_Version not found in $ROTOR_APP_DIR/releases"
  ln -sfn "releases/$SSM_Version" "$ROTOR_APP_DIR/current.rotor-new" || rotor_fail 1 "cannot link release $SSM_Version"
  mv -Tf "$ROTOR_APP_DIR/current.rotor-new" "$ROTOR_APP_DIR/current" || rotor_fail 1 "cannot switch current to $SSM_Version"
  echo "rotor: current -> releases/$SSM_Version (serves after a restart)"
}

rotor_start() {
  old=$(rotor_pid)
  if [ -n "$old" ] && rotor_answers; then echo "rotor: Apache is already running (parent pid $old)"; return 0; fi
  if [ -n "$old" ]; then
    echo "rotor: the old parent (pid $old) is still finishing requests; waiting for it to exit"
    rotor_wait_gone "$old" $((ROTOR_GRACEFUL_TIMEOUT + 5)) || rotor_fail 1 "the old Apache (parent pid $old) did not exit; not starting"
  fi
  if [ -n "${"${ROTOR_SYSTEMD_UNIT:-}"}" ]; then
    n=$((ROTOR_GRACEFUL_TIMEOUT * 20 + 100))
    while [ "$(systemctl is-active "$ROTOR_SYSTEMD_UNIT" 2>/dev/null)" = "deactivating" ]; do
      [ "$n" -gt 0 ] || rotor_fail 1 "unit $ROTOR_SYSTEMD_UNIT is still stopping; not starting"
      n=$((n - 1))
      sleep 0.05
    done
    systemctl start "$ROTOR_SYSTEMD_UNIT" || rotor_fail 1 "systemctl start $ROTOR_SYSTEMD_UNIT failed"
  else
    rotor_ctl -k start || rotor_fail 1 "Apache did not start (see its error log)"
  fi
  n=$((ROTOR_START_TIMEOUT * 20))
  while :; do
    pid=$(rotor_pid)
    if { [ -n "$pid" ] || [ -z "${"${ROTOR_APACHE_PIDFILE:-}"}" ]; } && rotor_answers; then break; fi
    [ "$n" -gt 0 ] || rotor_fail 1 "Apache did not answer on 127.0.0.1:$ROTOR_PORT within $ROTOR_START_TIMEOUT s"
    n=$((n - 1))
    sleep 0.05
  done
  echo "rotor: Apache started (parent pid ${"${pid:-?}"}), answering on 127.0.0.1:$ROTOR_PORT"
}

rotor_verify() {
  deadline=$(($(date +%s) + ROTOR_VERIFY_WARMUP))
  while :; do
    why=""
    if ! curl -fsS --max-time 5 "$ROTOR_HEALTH_URL" >/dev/null 2>&1; then
      why="health check $ROTOR_HEALTH_URL failed"
    elif ! body=$(curl -fsS --max-time 5 "$ROTOR_VERSION_URL" 2>/dev/null); then
      why="version check $ROTOR_VERSION_URL failed"
    else
      observed=$(rotor_parse_version "$body")
      if [ "$observed" = "$SSM_Version" ]; then
        echo "rotor-version=$observed"
        return 0
      fi
      why="expected version $SSM_Version, instance serves $observed"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      [ -n "${"${observed:-}"}" ] && echo "rotor-version=$observed"
      rotor_fail 1 "$why (after a warm-up of $ROTOR_VERIFY_WARMUP s)"
    fi
    sleep 0.5
  done
}

rotor_probe() { rotor_fail 64 "no probe command configured"; }

# A JSON {"version": "..."} or the bare version, from the body in $1.
rotor_parse_version() {
  v=$(printf '%s' "$1" | sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p' | head -n 1)
  [ -n "$v" ] || v=$(printf '%s' "$1" | tr -d '[:space:]')
  printf '%s' "$v"
}

# The version the instance serves now, for an instance Rotor has no version tag for.
rotor_version() {
  body=$(curl -fsS --max-time 5 "$ROTOR_VERSION_URL" 2>/dev/null) || rotor_fail 1 "version check $ROTOR_VERSION_URL failed"
  observed=$(rotor_parse_version "$body")
  [ -n "$observed" ] || rotor_fail 1 "$ROTOR_VERSION_URL answered no version"
  echo "rotor-version=$observed"
}

${HOOK_OVERRIDES_MARKER}

case "$SSM_Hook" in
  stop) rotor_stop ;;
  deploy) rotor_deploy ;;
  start) rotor_start ;;
  verify) rotor_verify ;;
  probe) rotor_probe ;;
  version) rotor_version ;;
  *) rotor_fail 64 "unknown hook $SSM_Hook" ;;
esac
`;

export type ScriptHook = "stop" | "deploy" | "start" | "verify" | "probe" | "version";

export interface ScriptOverrides {
  /** Commands (configuration, never operator input) that replace built-in hooks. */
  hooks?: Partial<Record<ScriptHook, string | undefined>>;
  /** Settings as shell words, already quoted (e.g. `'http://127.0.0.1:8080/health'`); the instance's environment wins. */
  settings?: Record<string, string>;
}

/**
 * How a configured command is embedded: as the body of its own function, its text untouched on lines
 * of its own (never joined with `;` nor quoted into one line), so a multi-line command or a heredoc
 * works; the closing brace is on a line of its own after it. Windows line ends become `\n`, or a
 * heredoc's closing word (`EOF\r`) would never match.
 */
export function hookFunction(hook: string, command: string): string {
  return `rotor_${hook}() {\n${command.replace(/\r\n?/g, "\n").replace(/\n+$/, "")}\n}\n`;
}

/** The script, with configured commands defined as functions after the built-in ones, and configured settings. */
export function apacheHookScript(overrides: ScriptOverrides = {}): string {
  const defs = Object.entries(overrides.hooks ?? {})
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([hook, cmd]) => hookFunction(hook, cmd).replace(/\n$/, ""));
  const settings = Object.entries(overrides.settings ?? {}).map(([k, v]) => `[ -n "\${${k}:-}" ] || ${k}=${v}`);
  let text = SCRIPT;
  if (settings.length) text = text.replace(SETTINGS_MARKER, `${SETTINGS_MARKER}\n${settings.join("\n")}`);
  if (defs.length) text = text.replace(HOOK_OVERRIDES_MARKER, `${HOOK_OVERRIDES_MARKER}\n${defs.join("\n")}`);
  return text;
}
