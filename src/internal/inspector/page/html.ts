/** The inspector page: markup only; its script and style are served beside it (no inline code, for the CSP). */
export const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>fiberapp inspector</title>
<link rel="stylesheet" href="/page/app.css">
<script src="/page/app.js" defer></script>
</head>
<body>
<header>
  <h1>fiberapp inspector <span id="app-name"></span></h1>
  <span id="connection" class="connection">connecting</span>
</header>
<div id="error" class="error" role="alert" hidden></div>
<div id="notice" class="notice" role="status" hidden></div>
<form id="login" class="login" hidden>
  <p id="login-message">This inspector needs its API key.</p>
  <label for="key">API key</label>
  <input id="key" name="key" type="password" autocomplete="off" required>
  <button type="submit">Open</button>
</form>
<main id="main" hidden>
  <section>
    <dl id="process" class="process"></dl>
  </section>
  <section>
    <div class="bar">
      <h2>Workers <span id="worker-count" class="count"></span></h2>
      <div class="actions">
        <button id="restart-all" type="button">Restart all</button>
        <label for="replicas">Workers</label>
        <input id="replicas" type="number" min="1" max="256" step="1">
        <button id="scale" type="button">Scale</button>
      </div>
    </div>
    <table id="workers" class="workers">
      <thead>
        <tr>
          <th>Worker</th><th>State</th><th>PID</th><th>Uptime</th><th>Starts</th><th>Restarts</th>
          <th>Serving</th><th>Last exit</th><th></th>
        </tr>
      </thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="fleet" hidden>
    <div class="bar">
      <h2>Machines <span id="machine-count" class="count"></span></h2>
    </div>
    <div id="fleet-status" class="fleet-status" role="status" hidden></div>
    <table id="machines" class="machines">
      <thead>
        <tr><th>Machine</th><th>State</th><th>URL</th><th>Last seen</th><th>Workers</th><th></th></tr>
      </thead>
      <tbody></tbody>
    </table>
    <div class="bar sub">
      <h2>One-in-fleet tasks <span id="fleet-task-count" class="count"></span></h2>
    </div>
    <table id="fleet-tasks" class="fleet-tasks">
      <thead>
        <tr><th>Name</th><th>Status</th><th>Machine</th><th>Worker</th><th>Runs</th><th>Failures</th><th></th></tr>
      </thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <div class="bar">
      <h2>Tasks <span id="task-count" class="count"></span></h2>
      <div class="actions">
        <label for="filter-name">Name</label>
        <input id="filter-name" type="search" placeholder="report-*" title="A part of the name, or a pattern where * matches any text">
        <label for="filter-status">Status</label>
        <select id="filter-status">
          <option value="">any</option>
          <option value="pending">pending</option>
          <option value="running">running</option>
          <option value="succeeded">succeeded</option>
          <option value="failed">failed</option>
          <option value="cancelled">cancelled</option>
        </select>
      </div>
    </div>
    <div class="tasks" role="table" aria-label="Tasks">
      <div class="row head" role="row">
        <span role="columnheader">Worker</span><span role="columnheader">Name</span>
        <span role="columnheader">Status</span><span role="columnheader">Added</span>
        <span role="columnheader">Started</span><span role="columnheader">Ended</span>
        <span role="columnheader">Runs</span><span role="columnheader">Next run</span>
        <span role="columnheader">Failures</span><span role="columnheader">Placement</span>
        <span role="columnheader"></span>
      </div>
      <div id="tasks" class="viewport" role="rowgroup">
        <div id="tasks-spacer" class="spacer"><div id="tasks-rows" class="rows"></div></div>
      </div>
    </div>
  </section>
</main>
</body>
</html>
`
