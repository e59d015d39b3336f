/** The inspector page's style (served as `/page/app.css`). */
export const style = `:root {
  color-scheme: light dark;
  --fg: #1d2433;
  --muted: #667085;
  --bg: #f7f8fa;
  --panel: #ffffff;
  --line: #e3e6eb;
  --accent: #3559e0;
  --bad: #c4320a;
  --good: #067647;
  --warn: #b54708;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e6e9ef;
    --muted: #98a2b3;
    --bg: #11141a;
    --panel: #1a1e26;
    --line: #2b313c;
    --accent: #7b96ff;
    --bad: #ff8a65;
    --good: #5fd39a;
    --warn: #f5b25b;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; justify-content: space-between; padding: 12px 20px;
  border-bottom: 1px solid var(--line); background: var(--panel); }
h1 { font-size: 18px; margin: 0; }
h1 span { color: var(--muted); font-weight: normal; }
h2 { font-size: 15px; margin: 0; }
main, .login, .error, .notice { margin: 16px 20px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px;
  margin-bottom: 16px; }
.bar { display: flex; align-items: center; justify-content: space-between; gap: 12px; margin-bottom: 8px;
  flex-wrap: wrap; }
.actions { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.count { color: var(--muted); font-weight: normal; }
.connection { font-size: 12px; padding: 2px 8px; border-radius: 10px; border: 1px solid var(--line);
  color: var(--muted); }
.connection.live { color: var(--good); border-color: var(--good); }
.connection.down { color: var(--bad); border-color: var(--bad); }
.error { padding: 10px 14px; border: 1px solid var(--bad); color: var(--bad); border-radius: 6px;
  background: var(--panel); }
.notice { padding: 10px 14px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); }
.login { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; background: var(--panel); padding: 14px;
  border: 1px solid var(--line); border-radius: 6px; }
.login p { width: 100%; margin: 0 0 4px; }
input, select, button { font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line);
  border-radius: 4px; padding: 3px 8px; }
input[type="number"] { width: 5em; }
input[type="search"] { width: 16em; }
button { cursor: pointer; }
button:hover { border-color: var(--accent); }
button:disabled { opacity: 0.5; cursor: default; }
.process { display: flex; flex-wrap: wrap; gap: 4px 24px; margin: 0; }
.process div { display: flex; gap: 6px; }
.process dt { color: var(--muted); }
.process dd { margin: 0; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th, .row.head { color: var(--muted); font-weight: 600; font-size: 12px; }
td { font-variant-numeric: tabular-nums; }
.tasks { overflow-x: auto; }
.row { display: grid; grid-template-columns: 84px minmax(140px, 1fr) 90px 88px 88px 88px 52px 80px 72px 112px 88px;
  align-items: center; height: 28px; border-bottom: 1px solid var(--line); min-width: 980px; }
.row > span { padding: 0 8px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
.row.head { height: 28px; }
.row button { padding: 0 8px; font-size: 12px; }
.viewport { height: 60vh; min-height: 240px; overflow-y: auto; position: relative; min-width: 980px; }
.spacer { position: relative; }
.rows { position: absolute; top: 0; left: 0; right: 0; }
.empty { color: var(--muted); padding: 12px 8px; }
.status-running, .state-serving { color: var(--accent); }
.status-succeeded { color: var(--good); }
.status-failed, .state-crashed, .state-failed { color: var(--bad); }
.status-cancelled, .status-pending { color: var(--warn); }
.bar.sub { margin-top: 14px; }
.fleet-status { padding: 6px 10px; margin-bottom: 8px; border: 1px solid var(--warn); color: var(--warn);
  border-radius: 4px; }
.self { margin-left: 6px; font-size: 12px; color: var(--muted); }
.state-up, .status-completed { color: var(--good); }
.state-gone { color: var(--bad); }
.state-stopped, .status-waiting { color: var(--muted); }
td button { padding: 0 8px; font-size: 12px; }
`
