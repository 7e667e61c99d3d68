// jadis map viewer: shows a server-rendered view of a (huge) map sheet and reports gestures.
// The server sends only what is visible, at the zoom shown; this code never sees the full sheet.
// Gestures -> one trigger value "event" (map pixel coordinates, x right, y down):
//   {type: "view", cx, cy, zoom}       pan (drag in pan mode) or zoom (wheel)
//   {type: "click", x, y}              click without drag in pan mode
//   {type: "brush", points: [[x,y]…]}  a brush stroke (brush mode)
//   {type: "polygon", points: [[x,y]…]} a closed polygon (polygon mode: click vertices,
//                                       double-click / Enter / click on the first vertex closes, Esc cancels)
export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  let s = parentElement.__jadis;
  if (!s) {
    s = parentElement.__jadis = { base: null, overlay: null, drag: null, stroke: null, poly: [], hover: null,
                                  wheel: null, data: null, baseSrc: null, overlaySrc: null, offset: [0, 0],
                                  scaleAnim: null };
    const wrap = document.createElement("div");
    wrap.className = "jadis-viewer";
    const canvas = document.createElement("canvas");
    canvas.setAttribute("data-testid", "jadis-viewer-canvas");
    canvas.tabIndex = 0;
    const info = document.createElement("div");
    info.className = "jadis-info";
    info.setAttribute("data-testid", "jadis-viewer-info");
    wrap.appendChild(canvas);
    wrap.appendChild(info);
    parentElement.appendChild(wrap);
    s.canvas = canvas;
    s.info = info;
    s.ctx = canvas.getContext("2d");
    bind(s);
  }
  s.send = (ev) => setTriggerValue("event", Object.assign({ id: Date.now() + Math.random() }, ev));
  s.data = data || {};
  const d = s.data;
  s.canvas.width = d.width || 600;
  s.canvas.height = d.height || 400;
  s.canvas.style.cursor = d.mode === "pan" ? "grab" : "crosshair";
  s.canvas.setAttribute("data-mode", d.mode || "pan");  // the tool in effect (tests wait for it)
  if (d.image === s.baseSrc) { s.offset = [0, 0]; s.scaleAnim = null; }  // else: keep until the new view loads
  if (d.mode !== "polygon") s.poly = [];
  load(s, "base", d.image);
  load(s, "overlay", d.overlay);
  draw(s);
}

function load(s, which, src) {
  const key = which + "Src";
  if (!src) { s[which] = null; s[key] = null; return; }
  if (s[key] === src) return;
  s[key] = src;
  const img = new Image();
  img.onload = () => { if (s[key] === src) { s[which] = img; s.offset = [0, 0]; s.scaleAnim = null; draw(s); } };
  img.src = src;
}

function toMap(s, u, v) {
  const vw = s.data.view;
  return [vw.x0 + u / vw.zoom, vw.y0 + v / vw.zoom];
}

function toDisplay(s, x, y) {
  const vw = s.data.view;
  return [(x - vw.x0) * vw.zoom, (y - vw.y0) * vw.zoom];
}

function eventPos(s, e) {
  const r = s.canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * (s.canvas.width / r.width), (e.clientY - r.top) * (s.canvas.height / r.height)];
}

function draw(s) {
  const { ctx, canvas } = s;
  const d = s.data;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#e6e6e6";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (s.scaleAnim) {  // wheel preview: scale about the cursor until the server answers
    const [u, v, f] = s.scaleAnim;
    ctx.setTransform(f, 0, 0, f, u - f * u, v - f * v);
  } else {
    ctx.setTransform(1, 0, 0, 1, s.offset[0], s.offset[1]);
  }
  if (s.base) ctx.drawImage(s.base, 0, 0, canvas.width, canvas.height);
  if (s.overlay && d.opacity > 0) {
    ctx.globalAlpha = d.opacity;
    ctx.drawImage(s.overlay, 0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = 1;
  }
  drawGrid(s);
  drawLines(s);
  drawPoints(s);
  drawSketch(s);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
}

function drawGrid(s) {
  const g = s.data.grid;
  if (!g) return;
  const { ctx } = s;
  const colors = { accepted: "rgba(30,160,60,0.9)", rejected: "rgba(210,30,30,0.9)",
                   pending: "rgba(90,90,90,0.55)", stale: "rgba(230,140,0,0.9)" };
  for (const [tx, ty, status] of g.tiles) {
    const [u0, v0] = toDisplay(s, tx * g.size, ty * g.size);
    const [u1, v1] = toDisplay(s, Math.min((tx + 1) * g.size, g.width), Math.min((ty + 1) * g.size, g.height));
    if (u1 < 0 || v1 < 0 || u0 > s.canvas.width || v0 > s.canvas.height) continue;
    ctx.strokeStyle = colors[status] || colors.pending;
    ctx.lineWidth = status === "pending" ? 1 : 2;
    ctx.strokeRect(u0 + 1, v0 + 1, u1 - u0 - 2, v1 - v0 - 2);
    if (status === "accepted" || status === "rejected") {
      ctx.fillStyle = status === "accepted" ? "rgba(30,160,60,0.10)" : "rgba(210,30,30,0.12)";
      ctx.fillRect(u0, v0, u1 - u0, v1 - v0);
    }
  }
  const sel = s.data.selected_tile;
  if (sel) {
    const [u0, v0] = toDisplay(s, sel[0] * g.size, sel[1] * g.size);
    const [u1, v1] = toDisplay(s, Math.min((sel[0] + 1) * g.size, g.width), Math.min((sel[1] + 1) * g.size, g.height));
    ctx.strokeStyle = "#00b7ff";
    ctx.lineWidth = 3;
    ctx.setLineDash([8, 4]);
    ctx.strokeRect(u0 + 2, v0 + 2, u1 - u0 - 4, v1 - v0 - 4);
    ctx.setLineDash([]);
  }
}

function drawPoints(s) {
  const pts = s.data.points || [];
  const { ctx } = s;
  ctx.font = "bold 12px sans-serif";
  for (const p of pts) {
    const [u, v] = toDisplay(s, p.x, p.y);
    ctx.strokeStyle = "white";
    ctx.lineWidth = 4;
    cross(ctx, u, v, 8);
    ctx.strokeStyle = p.color || "#ff0080";
    ctx.lineWidth = 2;
    cross(ctx, u, v, 8);
    if (p.label) {
      ctx.fillStyle = "white";
      ctx.fillText(p.label, u + 7, v - 5);
      ctx.fillStyle = p.color || "#ff0080";
      ctx.fillText(p.label, u + 6, v - 6);
    }
  }
}

// Street segments with their names: colour and dash by kind, the name written along the segment
// (kept upright) when it fits; doubtful names end with "?".
const LINE_STYLES = {
  named: { color: "#1a7f37", width: 3, dash: [] },
  low: { color: "#e68c00", width: 3, dash: [6, 4] },
  corrected: { color: "#8a2be2", width: 3, dash: [] },
  unnamed: { color: "rgba(90,90,90,0.7)", width: 1.5, dash: [3, 4] },
  selected: { color: "#00b7ff", width: 5, dash: [] },
};

function drawLines(s) {
  const lines = s.data.lines || [];
  if (!lines.length) return;
  const { ctx } = s;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const ln of lines) {
    const st = LINE_STYLES[ln.kind] || LINE_STYLES.named;
    const pts = ln.points.map(([x, y]) => toDisplay(s, x, y));
    if (pts.length < 2) continue;
    ctx.beginPath();
    pts.forEach(([u, v], i) => { if (i) ctx.lineTo(u, v); else ctx.moveTo(u, v); });
    ctx.setLineDash([]);
    ctx.strokeStyle = "rgba(255,255,255,0.8)";
    ctx.lineWidth = st.width + 2;
    ctx.stroke();
    ctx.setLineDash(st.dash);
    ctx.strokeStyle = st.color;
    ctx.lineWidth = st.width;
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.font = "bold 12px sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const ln of lines) {
    if (!ln.label) continue;
    const pts = ln.points.map(([x, y]) => toDisplay(s, x, y));
    let total = 0;
    const lens = [];
    for (let i = 1; i < pts.length; i++) {
      const l = Math.hypot(pts[i][0] - pts[i - 1][0], pts[i][1] - pts[i - 1][1]);
      lens.push(l);
      total += l;
    }
    const width = ctx.measureText(ln.label).width;
    if (total < 0.8 * width && ln.kind !== "selected") continue;
    let at = total / 2, i = 0;
    while (i < lens.length - 1 && at > lens[i]) { at -= lens[i]; i++; }
    const [u0, v0] = pts[i], [u1, v1] = pts[i + 1];
    const f = lens[i] > 0 ? at / lens[i] : 0;
    let angle = Math.atan2(v1 - v0, u1 - u0);
    if (angle > Math.PI / 2) angle -= Math.PI;
    if (angle < -Math.PI / 2) angle += Math.PI;
    ctx.save();
    ctx.translate(u0 + f * (u1 - u0), v0 + f * (v1 - v0));
    ctx.rotate(angle);
    ctx.lineWidth = 3;
    ctx.strokeStyle = "white";
    ctx.strokeText(ln.label, 0, -8);
    ctx.fillStyle = (LINE_STYLES[ln.kind] || LINE_STYLES.named).color;
    ctx.fillText(ln.label, 0, -8);
    ctx.restore();
  }
  ctx.textAlign = "start";
  ctx.textBaseline = "alphabetic";
}

function cross(ctx, u, v, r) {
  ctx.beginPath();
  ctx.moveTo(u - r, v); ctx.lineTo(u + r, v);
  ctx.moveTo(u, v - r); ctx.lineTo(u, v + r);
  ctx.stroke();
}

function drawSketch(s) {
  const { ctx } = s;
  const d = s.data;
  const color = d.brush_color || "#ff00ff";
  if (s.stroke && s.stroke.length) {
    ctx.strokeStyle = color;
    ctx.globalAlpha = 0.6;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = Math.max(1, 2 * d.brush_radius * d.view.zoom);
    ctx.beginPath();
    const [u0, v0] = toDisplay(s, s.stroke[0][0], s.stroke[0][1]);
    ctx.moveTo(u0, v0);
    for (const [x, y] of s.stroke) { const [u, v] = toDisplay(s, x, y); ctx.lineTo(u, v); }
    if (s.stroke.length === 1) ctx.lineTo(u0 + 0.01, v0);
    ctx.stroke();
    ctx.globalAlpha = 1;
  }
  if (s.poly.length) {
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    s.poly.forEach(([x, y], i) => { const [u, v] = toDisplay(s, x, y); if (i) ctx.lineTo(u, v); else ctx.moveTo(u, v); });
    if (s.hover) { const [u, v] = toDisplay(s, s.hover[0], s.hover[1]); ctx.lineTo(u, v); }
    ctx.stroke();
    for (const [x, y] of s.poly) { const [u, v] = toDisplay(s, x, y); ctx.fillRect(u - 3, v - 3, 6, 6); }
  }
  if (d.mode === "brush" && s.hover && !s.stroke) {
    const [u, v] = toDisplay(s, s.hover[0], s.hover[1]);
    ctx.strokeStyle = color;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.arc(u, v, Math.max(1, d.brush_radius * d.view.zoom), 0, 2 * Math.PI);
    ctx.stroke();
  }
}

function closePolygon(s) {
  const pts = s.poly.slice();
  s.poly = [];
  s.hover = null;
  if (pts.length >= 3) s.send({ type: "polygon", points: pts.map(([x, y]) => [round2(x), round2(y)]) });
  draw(s);
}

function round2(v) { return Math.round(v * 100) / 100; }

function bind(s) {
  const c = s.canvas;
  c.addEventListener("contextmenu", (e) => e.preventDefault());
  c.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    c.setPointerCapture(e.pointerId);
    c.focus();
    const [u, v] = eventPos(s, e);
    const mode = s.data.mode;
    if (mode === "brush") {
      s.stroke = [toMap(s, u, v)];
    } else if (mode === "polygon") {
      const p = toMap(s, u, v);
      if (s.poly.length >= 3) {
        const [fu, fv] = toDisplay(s, s.poly[0][0], s.poly[0][1]);
        if (Math.hypot(fu - u, fv - v) < 8) { closePolygon(s); return; }
      }
      const last = s.poly[s.poly.length - 1];
      if (!last || Math.hypot(last[0] - p[0], last[1] - p[1]) * s.data.view.zoom > 2) s.poly.push(p);
    } else {
      s.drag = { u, v, moved: false };
      c.style.cursor = "grabbing";
    }
    draw(s);
  });
  c.addEventListener("pointermove", (e) => {
    const [u, v] = eventPos(s, e);
    const p = toMap(s, u, v);
    s.hover = p;
    s.info.textContent = `x ${p[0].toFixed(0)}  y ${p[1].toFixed(0)}  (zoom ${(s.data.view.zoom * 100).toFixed(1)} %)`;
    if (s.stroke) {
      const last = s.stroke[s.stroke.length - 1];
      if (Math.hypot(last[0] - p[0], last[1] - p[1]) * s.data.view.zoom >= 1.5) s.stroke.push(p);
    } else if (s.drag) {
      const dx = u - s.drag.u, dy = v - s.drag.v;
      if (Math.hypot(dx, dy) > 3) s.drag.moved = true;
      s.offset = [dx, dy];
    }
    draw(s);
  });
  const finish = (e) => {
    const [u, v] = eventPos(s, e);
    if (s.stroke) {
      const pts = s.stroke.map(([x, y]) => [round2(x), round2(y)]);
      s.stroke = null;
      s.send({ type: "brush", points: pts });
    } else if (s.drag) {
      const drag = s.drag;
      s.drag = null;
      c.style.cursor = s.data.mode === "pan" ? "grab" : "crosshair";
      const vw = s.data.view;
      if (drag.moved) {
        const dx = (u - drag.u) / vw.zoom, dy = (v - drag.v) / vw.zoom;
        const cx = vw.x0 + s.canvas.width / (2 * vw.zoom) - dx;
        const cy = vw.y0 + s.canvas.height / (2 * vw.zoom) - dy;
        s.send({ type: "view", cx, cy, zoom: vw.zoom });
      } else {
        const [x, y] = toMap(s, u, v);
        s.offset = [0, 0];
        s.send({ type: "click", x: round2(x), y: round2(y) });
      }
    }
    draw(s);
  };
  c.addEventListener("pointerup", finish);
  c.addEventListener("pointercancel", () => { s.stroke = null; s.drag = null; s.offset = [0, 0]; draw(s); });
  c.addEventListener("pointerleave", () => { s.hover = null; draw(s); });
  c.addEventListener("dblclick", (e) => {
    if (s.data.mode === "polygon") { e.preventDefault(); closePolygon(s); }
  });
  c.addEventListener("keydown", (e) => {
    if (s.data.mode !== "polygon") return;
    if (e.key === "Enter") { e.preventDefault(); closePolygon(s); }
    if (e.key === "Escape") { s.poly = []; draw(s); }
    if (e.key === "Backspace") { s.poly.pop(); draw(s); }
  });
  c.addEventListener("wheel", (e) => {
    e.preventDefault();
    const [u, v] = eventPos(s, e);
    if (!s.wheel) s.wheel = { u, v, factor: 1, timer: null };
    s.wheel.factor *= Math.exp(-e.deltaY * 0.0015);
    s.wheel.factor = Math.min(16, Math.max(1 / 16, s.wheel.factor));
    s.scaleAnim = [s.wheel.u, s.wheel.v, s.wheel.factor];
    draw(s);
    clearTimeout(s.wheel.timer);
    s.wheel.timer = setTimeout(() => {
      const w = s.wheel;
      s.wheel = null;
      const vw = s.data.view;
      const [x, y] = toMap(s, w.u, w.v);
      const zoom = vw.zoom * w.factor;
      const cx = x + (s.canvas.width / 2 - w.u) / zoom;
      const cy = y + (s.canvas.height / 2 - w.v) / zoom;
      s.send({ type: "view", cx, cy, zoom });
    }, 250);
  }, { passive: false });
}
