// Reference transforms from Allmaps' own library, for tests/test_georef_interop.py.
// stdin: {"type": "polynomial2" | "helmert" | "projective" | "thinPlateSpline" | ...,
//         "gcps": [{"resource": [x, y], "geo": [X, Y]}, ...],
//         "toGeo": [[x, y], ...], "toResource": [[X, Y], ...]}
// stdout: {"toGeo": [[X, Y], ...], "toResource": [[x, y], ...]}
// A JSON array of such requests gives an array of answers (one process for many GCP sets).
import { GcpTransformer } from '@allmaps/transform'

let input = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => { input += chunk })
process.stdin.on('end', () => {
  const req = JSON.parse(input)
  const answer = (r) => {
    const transformer = new GcpTransformer(r.gcps, r.type)
    return {
      toGeo: (r.toGeo || []).map((p) => transformer.transformToGeo(p)),
      toResource: (r.toResource || []).map((p) => transformer.transformToResource(p))
    }
  }
  process.stdout.write(JSON.stringify(Array.isArray(req) ? req.map(answer) : answer(req)))
})
