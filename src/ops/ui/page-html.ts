/** The status page's document (served at `/ui/`); its script and style are app.js / app.css beside it. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>quorumkv status</title>
<link rel="stylesheet" href="app.css">
</head>
<body>
<header>
  <h1>quorumkv</h1>
  <span id="self" class="muted"></span>
  <span id="conn" class="badge">connecting…</span>
</header>
<form id="token-form" hidden>
  <label>This endpoint needs its token: <input id="token" type="password" autocomplete="off"></label>
  <button type="submit">Use</button>
</form>
<main>
  <section>
    <h2>Members</h2>
    <table id="members">
      <thead><tr><th>member</th><th>role</th><th>peer URL</th><th>lag (entries)</th></tr></thead>
      <tbody></tbody>
    </table>
    <dl id="raft" class="grid"></dl>
  </section>
  <section>
    <h2>Load</h2>
    <dl id="load" class="grid"></dl>
    <h3>WAL fsync latency</h3>
    <div id="fsync" class="histogram"></div>
  </section>
  <section class="wide">
    <h2>Keys</h2>
    <form id="browse">
      <label>prefix <input id="prefix" value="" placeholder="(all keys)" autocomplete="off"></label>
      <button type="submit">Show</button>
      <span id="browse-note" class="muted"></span>
    </form>
    <table id="keys">
      <thead><tr><th>key</th><th>value</th><th>mod revision</th><th>version</th><th>lease</th></tr></thead>
      <tbody></tbody>
    </table>
    <p class="muted">Read-only: the page shows the store and follows it live; it writes nothing.</p>
  </section>
</main>
<script src="app.js"></script>
</body>
</html>
`;
