// Validate Georeference Annotations with Allmaps' own parser, for tests/test_allmaps_iiif.py.
// stdin: an Annotation or AnnotationPage (JSON).
// stdout: {"ok": true, "maps": [{"resource": {...}, "gcps": n, "resourceMask": n, "transformation": {...}}]}
//      or {"ok": false, "error": "<zod message>"}
import { parseAnnotation } from '@allmaps/annotation'

let input = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => { input += chunk })
process.stdin.on('end', () => {
  let answer
  try {
    const maps = parseAnnotation(JSON.parse(input))
    answer = {
      ok: true,
      maps: maps.map((m) => ({
        resource: m.resource,
        gcps: m.gcps.length,
        resourceMask: m.resourceMask.length,
        transformation: m.transformation
      }))
    }
  } catch (err) {
    answer = { ok: false, error: String(err && err.message ? err.message : err) }
  }
  process.stdout.write(JSON.stringify(answer))
})
