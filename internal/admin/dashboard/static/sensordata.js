// sensordata.js: reading what devices publish to their telemetry nodes
// (devices/NAME):
//
//   - readings, XEP-0323 sensor data: <fields xmlns='urn:xmpp:iot:sensordata'>
//     with <node><timestamp> and field elements (§5.4: numeric, string,
//     boolean, enum, int, long, date, dateTime, time, duration), each with
//     a name, a value and, numeric ones, a unit;
//   - the last will mote publishes when a device's session is lost:
//     <status xmlns='urn:mote:device:0' state='offline'/>;
//   - the simulator's alarms (cmd/motesim): <alarm xmlns='urn:mote:sim:0'
//     field='heartRate' value='142' low='50' high='120'/>.
//
// Payloads are parsed with DOMParser into an inert XML document, only to
// read attributes; nothing from them becomes markup.

export const NS_SENSORDATA = "urn:xmpp:iot:sensordata";
export const NS_DEVICE = "urn:mote:device:0";
export const NS_SIM = "urn:mote:sim:0";

// The field elements of XEP-0323 §5.4.
const FIELD_TYPES = new Set(["numeric", "string", "boolean", "enum", "int", "long", "date", "dateTime", "time", "duration"]);

// parseItem classifies a payload (XML) and returns
//   {kind: "reading", fields: [{name, value, unit, type, warning}]}
//   {kind: "status", state}
//   {kind: "alarm", field, value, low, high}
//   {kind: "other", name}   an element of another kind (its local name)
//   null                    no payload, or not XML.
// A reading's fields are in document order; a field named twice (two
// timestamps, say) keeps its last value.
export function parseItem(xml) {
  if (!xml) return null;
  const doc = new DOMParser().parseFromString(xml, "application/xml");
  if (doc.getElementsByTagName("parsererror").length > 0) return null;
  const root = doc.documentElement;
  const ns = root.namespaceURI;
  const attr = (el, name) => el.getAttribute(name) ?? "";
  if (root.localName === "fields" && ns === NS_SENSORDATA) {
    const byName = new Map();
    for (const el of root.getElementsByTagNameNS(NS_SENSORDATA, "*")) {
      if (!FIELD_TYPES.has(el.localName) || !el.hasAttribute("name")) continue;
      const name = attr(el, "name");
      byName.delete(name); // document order of the last occurrence
      byName.set(name, {
        name,
        value: attr(el, "value"),
        unit: el.localName === "numeric" ? attr(el, "unit") : "",
        type: el.localName,
        // XEP-0323 §5.5 quality flags a device may set on a value.
        warning: attr(el, "warning") === "true" || attr(el, "error") === "true",
      });
    }
    return { kind: "reading", fields: [...byName.values()] };
  }
  if (root.localName === "status" && ns === NS_DEVICE) return { kind: "status", state: attr(root, "state") };
  if (root.localName === "alarm" && ns === NS_SIM) {
    return { kind: "alarm", field: attr(root, "field"), value: attr(root, "value"),
      low: num(attr(root, "low")), high: num(attr(root, "high")) };
  }
  return { kind: "other", name: root.localName };
}

// num returns s as a number, or null when it is none.
export function num(s) {
  if (s === null || s === undefined || String(s).trim() === "") return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

// A few field names that read better otherwise than split.
const LABELS = { spo2: "SpO₂", co2: "CO₂", pm25: "PM2.5", pm10: "PM10" };

// fieldLabel makes a field name readable: "heartRate" is "Heart rate",
// "bloodPressureSystolic" "Blood pressure systolic".
export function fieldLabel(name) {
  if (LABELS[name.toLowerCase()]) return LABELS[name.toLowerCase()];
  const s = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").toLowerCase().trim();
  return s ? s[0].toUpperCase() + s.slice(1) : name;
}

// withUnit formats a value and its unit: "72 bpm", "52.52°".
export function withUnit(value, unit) {
  if (!unit) return value;
  return unit === "°" ? value + unit : `${value} ${unit}`;
}
