/*
 * static: the two files pgfleet-web serves besides its pages, built in so that nothing
 * is fetched from anywhere else: the stylesheet and live.js, the only script (the
 * Content-Security-Policy allows no other). Pages work without it; it only moves
 * progress bars as events end, from the /live event stream.
 */
#include <string.h>

#include "web/web.h"

static const char live_js[] =
    "/* pgfleet-web: live progress from /live (Server-Sent Events). */\n"
    "(function () {\n"
    "  'use strict';\n"
    "  var marked = document.querySelectorAll('[data-schedule]'), ids = [];\n"
    "  for (var i = 0; i < marked.length; i++) {\n"
    "    var id = marked[i].getAttribute('data-schedule');\n"
    "    if (/^[0-9]+$/.test(id) && ids.indexOf(id) < 0 && ids.length < 200) ids.push(id);\n"
    "  }\n"
    "  if (ids.length === 0 || !window.EventSource) return;\n"
    "  var states = ['done', 'failed', 'cancelled', 'running', 'pending'];\n"
    "  function bar(svg, d) {\n"
    "    var x = 0;\n"
    "    for (var k = 0; k < states.length; k++) {\n"
    "      var r = svg.querySelector('rect[data-state=\"' + states[k] + '\"]');\n"
    "      var w = d.total > 0 ? 100 * d[states[k]] / d.total : 0;\n"
    "      if (r) { r.setAttribute('x', x.toFixed(2)); r.setAttribute('width', w.toFixed(2)); }\n"
    "      x += w;\n"
    "    }\n"
    "    svg.setAttribute('aria-label', (d.total - d.running - d.pending) + ' of ' + d.total + ' ended');\n"
    "  }\n"
    "  function update(d) {\n"
    "    var els = document.querySelectorAll('[data-schedule=\"' + d.id + '\"]');\n"
    "    for (var i = 0; i < els.length; i++) {\n"
    "      var el = els[i];\n"
    "      if (el.tagName.toLowerCase() === 'svg') { bar(el, d); continue; }\n"
    "      var fs = el.querySelectorAll('[data-field]');\n"
    "      for (var j = 0; j < fs.length; j++) {\n"
    "        var f = fs[j].getAttribute('data-field');\n"
    "        if (!Object.prototype.hasOwnProperty.call(d, f)) continue;\n"
    "        var v = String(d[f]);\n"
    "        if (fs[j].textContent === v) continue;\n"
    "        fs[j].textContent = v;\n"
    "        if (f === 'state') fs[j].className = 'state st-' + v.replace(/[^a-z]/g, '');\n"
    "        var note = document.querySelector('[data-stale]');\n"
    "        if (note) note.hidden = false;\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "  var es = new EventSource('/live?s=' + ids.join(','));\n"
    "  es.addEventListener('progress', function (e) {\n"
    "    var d;\n"
    "    try { d = JSON.parse(e.data); } catch (x) { return; }\n"
    "    if (d && /^[0-9]+$/.test(String(d.id))) update(d);\n"
    "  });\n"
    "  document.documentElement.setAttribute('data-live', 'on');\n"
    "})();\n";

static const char style_css[] =
    ":root{--fg:#1d232a;--muted:#5c6670;--line:#d8dde2;--bg:#fff;--head:#f3f5f7;"
    "--done:#2e8b57;--failed:#c0392b;--cancelled:#8e8e8e;--running:#2f6fd0;--pending:#d9dee3}\n"
    "body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:var(--fg);"
    "background:var(--bg)}\n"
    "header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.2em;background:#20262d}\n"
    "header a{color:#e8ecef;text-decoration:none}header a:hover{text-decoration:underline}\n"
    ".brand{font-weight:700}nav{display:flex;gap:1.1em}\n"
    "main{padding:1em 1.2em;max-width:1400px}\n"
    "footer{padding:1em 1.2em;color:var(--muted);font-size:12px;border-top:1px solid var(--line)}\n"
    "h1{font-size:20px;margin:.2em 0 .6em}h2{font-size:16px;margin:1.4em 0 .5em}\n"
    "table{border-collapse:collapse;width:100%;margin:.4em 0 1em}\n"
    "th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid var(--line);vertical-align:top}\n"
    "th{background:var(--head);font-weight:600;white-space:nowrap}\n"
    "td.num,th.num{text-align:right;white-space:nowrap}td.time{white-space:nowrap}\n"
    "a{color:#1f5fbf}\n"
    ".muted{color:var(--muted)}.error{color:var(--failed)}\n"
    "form.filter{display:flex;flex-wrap:wrap;gap:.6em;align-items:end;margin:.4em 0 1em}\n"
    "form.filter label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}\n"
    "input,select,button{font:inherit;padding:.2em .4em}\n"
    ".actions{display:flex;flex-wrap:wrap;gap:.8em;align-items:center;margin:.6em 0;padding:.5em .8em;"
    "border:1px solid var(--line);background:var(--head)}.actions p{margin:0;width:100%}\n"
    "form.action{display:inline-flex;gap:.4em;align-items:center;margin:0}\n"
    ".state{display:inline-block;padding:0 .5em;border-radius:.7em;font-size:12px;color:#fff;"
    "background:var(--cancelled)}\n"
    ".st-done{background:var(--done)}.st-failed{background:var(--failed)}"
    ".st-running{background:var(--running)}.st-pending{background:#98a2ad}"
    ".st-halted{background:#b7791f}\n"
    "svg.bar{width:14em;height:.95em;vertical-align:middle;background:var(--pending);border-radius:2px}\n"
    ".s-done{fill:var(--done)}.s-failed{fill:var(--failed)}.s-cancelled{fill:var(--cancelled)}"
    ".s-running{fill:var(--running)}.s-pending{fill:var(--pending)}\n"
    "pre{background:#f6f8fa;border:1px solid var(--line);padding:.6em;overflow:auto;"
    "white-space:pre-wrap;word-break:break-all;max-height:40em}\n"
    ".tok{background:#fff2b3;color:#7a4b00;border-radius:2px}\n"
    "tr.stale td{background:#fff4f2}.stale-mark{color:var(--failed);font-weight:600}\n"
    ".note{background:#fff8e0;border:1px solid #f0d880;padding:.4em .6em}\n"
    ".pager{display:flex;gap:1em;margin:.5em 0}\n"
    "table.diff td{font:12px/1.35 ui-monospace,monospace;border:0;padding:0 .5em;white-space:pre-wrap}\n"
    "table.diff td.ln{color:var(--muted);text-align:right;width:3em;user-select:none}\n"
    "table.diff tr.add td.code{background:#e6ffec}table.diff tr.del td.code{background:#ffebe9}\n"
    "table.diff tr.skip td{color:var(--muted);text-align:center}\n"
    "svg.chart{width:100%;max-width:900px;height:auto;display:block;margin:.5em 0 1.5em}\n"
    "svg.chart text{font-size:11px;fill:var(--muted)}svg.chart .ctitle{font-size:13px;fill:var(--fg);"
    "font-weight:600}\n"
    "svg.chart .grid{stroke:#e6e9ec}svg.chart .axis{stroke:#9aa4ae}\n"
    "svg.chart .line{stroke-width:2}\n"
    "svg.chart path.c-p50{stroke:var(--running)}svg.chart path.c-p95{stroke:#d68910}"
    "svg.chart path.c-pct{stroke:var(--done)}\n"
    ".c-ok{fill:var(--done)}.c-failed{fill:var(--failed)}.c-cancelled{fill:var(--cancelled)}"
    ".c-p50{fill:var(--running)}.c-p95{fill:#d68910}.c-pct{fill:var(--done)}\n"
    "dl.kv{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dl.kv dt{color:var(--muted)}"
    "dl.kv dd{margin:0}\n"
    "code{font:12px ui-monospace,monospace}\n";

const char *
web_static(const char *name, const char **ctype)
{
	if (strcmp(name, "live.js") == 0) {
		*ctype = "text/javascript; charset=utf-8";
		return live_js;
	}
	if (strcmp(name, "style.css") == 0) {
		*ctype = "text/css; charset=utf-8";
		return style_css;
	}
	return NULL;
}
