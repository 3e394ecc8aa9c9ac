/** The status page's style sheet (served at `/ui/app.css`). */
export const PAGE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #667085; --line: #d0d5dd; --accent: #2563eb; --bad: #c2410c; --ok: #15803d; --bg: #ffffff; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --muted: #98a2b3; --line: #344054; --accent: #60a5fa; --bad: #fb923c; --ok: #4ade80; --bg: #0d1117; } }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1rem; align-items: baseline; padding: .75rem 1.25rem; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.2rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
h3 { font-size: .9rem; margin: 1rem 0 .25rem; color: var(--muted); font-weight: 600; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 1.25rem; padding: 1.25rem; }
section { border: 1px solid var(--line); border-radius: 8px; padding: 1rem; min-width: 0; }
section.wide { grid-column: 1 / -1; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.value { font-family: ui-monospace, monospace; word-break: break-all; }
tr.fresh td { animation: fresh 1.5s ease-out; }
@keyframes fresh { from { background: color-mix(in srgb, var(--accent) 25%, transparent); } to { background: transparent; } }
.grid { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .75rem 0 0; }
.grid dt { color: var(--muted); }
.grid dd { margin: 0; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.badge { padding: .1rem .5rem; border-radius: 999px; border: 1px solid var(--line); font-size: .8rem; }
.badge.ok { color: var(--ok); border-color: var(--ok); }
.badge.bad { color: var(--bad); border-color: var(--bad); }
.role-leader { color: var(--accent); font-weight: 600; }
.histogram { display: flex; align-items: flex-end; gap: 2px; height: 90px; border-bottom: 1px solid var(--line); }
.histogram div { flex: 1; background: var(--accent); min-height: 1px; position: relative; }
.histogram div span { position: absolute; bottom: -1.4rem; left: 0; font-size: .65rem; color: var(--muted); white-space: nowrap; }
#fsync { margin-bottom: 1.6rem; }
form { display: flex; gap: .5rem; align-items: center; margin: 0 0 .75rem; flex-wrap: wrap; }
input { font: inherit; padding: .25rem .4rem; border: 1px solid var(--line); border-radius: 4px; background: transparent; color: inherit; }
button { font: inherit; padding: .25rem .75rem; border: 1px solid var(--accent); border-radius: 4px; background: transparent; color: var(--accent); cursor: pointer; }
#token-form { padding: .75rem 1.25rem; border-bottom: 1px solid var(--line); }
`;
