// The area as SVG, drawn from coordinates the API returns (zone outlines, orders, providers):
// no tiles, nothing fetched. Equirectangular projection around the area's mean latitude.
const NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#b9cdf5", "#c8e6c9", "#ffe0b2", "#e1bee7", "#b2ebf2", "#f8bbd0", "#dcedc8", "#d7ccc8"];

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) if (child) node.append(child instanceof Node ? child : document.createTextNode(child));
  return node;
}

// zones: [{code, name, geometry: {centroid, outline}}]; marks: [{lat, lng, kind, id, label, to: {lat, lng}}]
export function drawMap({ zones, marks, providers, selected, onSelect, width = 760, height = 500 }) {
  const points = [];
  for (const z of zones) {
    const g = z.geometry;
    if (!g) continue;
    points.push(...g.outline);
    if (g.centroid) points.push(g.centroid);
  }
  for (const m of [...marks, ...providers]) if (m.lat !== null && m.lat !== undefined) points.push(m);
  const svg = s("svg", { class: "map", id: "map", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "map of the area" });
  if (!points.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "zone-label" }, "no coordinates yet"));
    return svg;
  }
  const lat0 = points.reduce((a, p) => a + p.lat, 0) / points.length;
  const k = Math.cos((lat0 * Math.PI) / 180);
  const xs = points.map((p) => p.lng * k);
  const ys = points.map((p) => p.lat);
  let [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const span = Math.max(maxX - minX, maxY - minY, 0.01);
  const pad = span * 0.08;
  minX -= pad; maxX += pad; minY -= pad; maxY += pad;
  const scale = Math.min(width / (maxX - minX), height / (maxY - minY));
  const offX = (width - (maxX - minX) * scale) / 2;
  const offY = (height - (maxY - minY) * scale) / 2;
  const px = (p) => [offX + (p.lng * k - minX) * scale, offY + (maxY - p.lat) * scale];

  const layer = (name) => s("g", { class: name });
  const zonesLayer = layer("zones");
  const labels = layer("labels");
  // a zone is the outline of its communes' centres, widened by a round stroke so that a
  // zone of a few communes still reads as an area; each zone in its own soft colour
  const widen = Math.max(18, Math.min(60, 1.2 * scale * 0.01));
  zones.forEach((z, index) => {
    const g = z.geometry;
    if (!g) return;
    const colour = PALETTE[index % PALETTE.length];
    const group = s("g", { class: "zone", "data-zone": z.code, opacity: 0.55 }, s("title", z.name));
    const style = `fill:${colour};stroke:${colour};stroke-width:${widen};stroke-linejoin:round;stroke-linecap:round`;
    if (g.outline.length >= 2) {
      group.append(s("polygon", { points: g.outline.map((p) => px(p).join(",")).join(" "), style }));
    } else if (g.centroid) {
      const [x, y] = px(g.centroid);
      group.append(s("circle", { cx: x, cy: y, r: widen, style: `fill:${colour}` }));
    }
    zonesLayer.append(group);
  });
  for (const z of zones) {
    const g = z.geometry;
    if (!g) continue;
    if (g.centroid) {
      const [x, y] = px(g.centroid);
      labels.append(s("text", { class: "zone-label", x, y, "text-anchor": "middle" }, z.name));
    }
  }
  const links = layer("links");
  const dots = layer("marks");
  for (const m of marks) {
    if (m.lat === null || m.lat === undefined) continue;
    const [x, y] = px(m);
    if (m.to && m.to.lat !== null && m.to.lat !== undefined) {
      const [x2, y2] = px(m.to);
      links.append(s("line", { class: "link", x1: x, y1: y, x2, y2 }));
    }
    const shape =
      m.kind === "unassignable"
        ? s("rect", { x: x - 6, y: y - 6, width: 12, height: 12, transform: `rotate(45 ${x} ${y})` })
        : s("circle", { cx: x, cy: y, r: 7 });
    shape.setAttribute("class", `order ${m.kind}${m.id === selected ? " selected" : ""}`);
    shape.dataset.order = m.id;
    shape.append(s("title", m.label));
    shape.addEventListener("click", () => onSelect && onSelect(m.id));
    dots.append(shape);
  }
  const people = layer("providers");
  for (const p of providers) {
    if (p.lat === null || p.lat === undefined) continue;
    const [x, y] = px(p);
    people.append(s("path", { class: "provider", d: `M${x} ${y - 7} L${x + 6} ${y + 5} L${x - 6} ${y + 5} Z`, "data-provider": p.provider_id }, s("title", `provider ${p.provider_id}`)));
  }
  // scale bar: a round number of km close to a sixth of the width
  const kmPerPx = 111.32 / scale;
  const target = (width / 6) * kmPerPx;
  const km = [0.5, 1, 2, 5, 10, 20, 50].find((v) => v >= target) || 100;
  const barPx = km / kmPerPx;
  const bar = s("g", {}, s("line", { class: "scale", x1: 16, y1: height - 16, x2: 16 + barPx, y2: height - 16 }), s("text", { class: "scale-label", x: 16, y: height - 22 }, `${km} km`));
  svg.append(zonesLayer, labels, links, people, dots, bar);
  return svg;
}
