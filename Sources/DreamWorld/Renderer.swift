import Foundation
import DreamTensor

/// A small 3-vector for the renderer.
struct V3 {
    var x, y, z: Double
    init(_ x: Double, _ y: Double, _ z: Double) { self.x = x; self.y = y; self.z = z }
    static func + (a: V3, b: V3) -> V3 { V3(a.x + b.x, a.y + b.y, a.z + b.z) }
    static func - (a: V3, b: V3) -> V3 { V3(a.x - b.x, a.y - b.y, a.z - b.z) }
    static func * (a: V3, s: Double) -> V3 { V3(a.x * s, a.y * s, a.z * s) }
    static func * (a: V3, b: V3) -> V3 { V3(a.x * b.x, a.y * b.y, a.z * b.z) }
    func dot(_ b: V3) -> Double { x * b.x + y * b.y + z * b.z }
    var length: Double { dot(self).squareRoot() }
    var normalized: V3 { self * (1 / max(length, 1e-12)) }
    func cross(_ b: V3) -> V3 { V3(y * b.z - z * b.y, z * b.x - x * b.z, x * b.y - y * b.x) }
}

/// Ray-marched renderer of one object (signed distance functions), orthographic camera on a sphere of
/// directions, Lambert + Blinn-Phong shading, metal reflecting a tint of the background, 2×2
/// supersampling. Deterministic: a scene and a size fix every pixel.
public enum Renderer {
    static let hues: [String: Double] = ["red": 0, "orange": 30, "yellow": 55, "green": 120, "cyan": 185, "blue": 225, "purple": 280, "white": 0]

    static func hsv(_ h: Double, _ s: Double, _ v: Double) -> V3 {
        let hh = (h.truncatingRemainder(dividingBy: 360) + 360).truncatingRemainder(dividingBy: 360) / 60
        let c = v * s, x = c * (1 - abs(hh.truncatingRemainder(dividingBy: 2) - 1)), m = v - c
        let (r, g, b): (Double, Double, Double)
        switch Int(hh) {
        case 0: (r, g, b) = (c, x, 0)
        case 1: (r, g, b) = (x, c, 0)
        case 2: (r, g, b) = (0, c, x)
        case 3: (r, g, b) = (0, x, c)
        case 4: (r, g, b) = (x, 0, c)
        default: (r, g, b) = (c, 0, x)
        }
        return V3(r + m, g + m, b + m)
    }

    /// Background colour along a ray (screen height v in [-1, 1] for the gradient).
    static func background(_ name: String, _ v: Double) -> V3 {
        switch name {
        case "dark": return V3(0.06, 0.06, 0.08) * (1 + 0.2 * v)
        case "sunset":
            let t = (v + 1) / 2
            return V3(0.98, 0.55, 0.22) * (1 - t) + V3(0.45, 0.22, 0.55) * t
        default: return V3(0.55, 0.55, 0.56) * (1 + 0.08 * v)
        }
    }

    /// Signed distance from p (object space, y up) to the shape of scale s.
    static func distance(_ shape: String, _ p: V3, _ s: Double, ringAxis: V3 = V3(0, 1, 0)) -> Double {
        switch shape {
        case "sphere":
            return p.length - 0.62 * s
        case "cube":
            let b = 0.5 * s, r = 0.05 * s
            let q = V3(abs(p.x) - b + r, abs(p.y) - b + r, abs(p.z) - b + r)
            return V3(max(q.x, 0), max(q.y, 0), max(q.z, 0)).length + min(max(q.x, max(q.y, q.z)), 0) - r
        case "cylinder":
            let dx = (p.x * p.x + p.z * p.z).squareRoot() - 0.45 * s, dy = abs(p.y) - 0.55 * s
            return min(max(dx, dy), 0) + (max(dx, 0) * max(dx, 0) + max(dy, 0) * max(dy, 0)).squareRoot()
        case "cone":
            // Capped cone, base radius 0.55s at y = −0.55s, apex at y = +0.6s (a bound, scaled to be safe).
            let h = 1.15 * s, r = 0.55 * s
            let y = p.y + 0.55 * s, q = (p.x * p.x + p.z * p.z).squareRoot()
            let side = (q * h + r * (y - h)) / (h * h + r * r).squareRoot()
            return max(side, max(-y, y - h)) * 0.8
        default:   // torus around `ringAxis`
            let h = p.dot(ringAxis)
            let q = (p - ringAxis * h).length - 0.5 * s
            return (q * q + h * h).squareRoot() - 0.18 * s
        }
    }

    /// Renders scenes as an image batch [N, 3, size, size] in [0, 1], in parallel over images.
    public static func render(_ scenes: [Scene], size: Int = 64) throws -> Tensor {
        try require(size >= 8 && size <= 1024, "render size must be 8…1024, got \(size)")
        let out = Tensor(zeros: [scenes.count, 3, size, size])
        let p = out.pointer
        parallelFor(scenes.count) { r in
            for i in r { draw(scenes[i], size: size, into: p + i * 3 * size * size) }
        }
        return out
    }

    static func draw(_ sc: Scene, size: Int, into px: UnsafeMutablePointer<Float>) {
        let shape = sc[.shape], metal = sc[.material] == "metal", striped = sc[.pattern] == "striped"
        let scale = sc[.size] == "large" ? 1.0 : 0.58
        let base: V3 = sc[.color] == "white" ? hsv(40, 0.05, 0.95) : hsv(hues[sc[.color]]! + sc.hueJitter * 360, 0.85, 0.92)
        // Camera looking at the origin from (azimuth, elevation); orthographic, view width 2.2.
        let (ca, sa, ce, se) = (cos(sc.azimuth), sin(sc.azimuth), cos(sc.elevation), sin(sc.elevation))
        let forward = V3(-ce * sa, -se, -ce * ca)
        let right = V3(ca, 0, -sa)
        let up = right.cross(forward)
        // The torus faces the camera (tilted 35° up), so it reads as a ring from every azimuth.
        let ringAxis = (forward * -cos(0.61) + up * sin(0.61)).normalized
        let eye = forward * -3
        let light = V3(0.5 + sc.lightJitter.0, 0.9, 0.4 + sc.lightJitter.1).normalized
        let plane = size * size
        let half = 1.1
        for py in 0..<size {
            for pxl in 0..<size {
                var acc = V3(0, 0, 0)
                for sy in 0..<2 {
                    for sx in 0..<2 {
                        let u = ((Double(pxl) + 0.25 + 0.5 * Double(sx)) / Double(size) * 2 - 1) * half - sc.offset.0
                        let v = (1 - (Double(py) + 0.25 + 0.5 * Double(sy)) / Double(size) * 2) * half - sc.offset.1
                        acc = acc + shade(eye + right * u + up * v, forward, v / half, shape, scale, base, metal, striped, light, sc[.background], ringAxis)
                    }
                }
                let c = acc * 0.25
                let k = py * size + pxl
                px[k] = Float(min(max(c.x, 0), 1)); px[plane + k] = Float(min(max(c.y, 0), 1)); px[2 * plane + k] = Float(min(max(c.z, 0), 1))
            }
        }
    }

    static func smoothstep(_ a: Double, _ b: Double, _ x: Double) -> Double {
        let t = min(max((x - a) / (b - a), 0), 1)
        return t * t * (3 - 2 * t)
    }

    /// A soft contact shadow on an invisible ground plane under the object: a flat ellipse below it when
    /// seen from the side, a halo around it from above, so the view shows even on a plain sphere.
    static func groundShadow(_ origin: V3, _ dir: V3, _ s: Double) -> Double {
        guard dir.y < -1e-6 else { return 1 }
        let t = (-0.66 * s - origin.y) / dir.y
        let q = origin + dir * t
        let r2 = (q.x * q.x + q.z * q.z) / (0.75 * s * 0.75 * s)
        return 1 - 0.55 * exp(-r2)
    }

    static func shade(_ origin: V3, _ dir: V3, _ v: Double, _ shape: String, _ s: Double, _ base: V3, _ metal: Bool,
                      _ striped: Bool, _ light: V3, _ bg: String, _ ringAxis: V3) -> V3 {
        let sdf = { (p: V3) -> Double in Renderer.distance(shape, p, s, ringAxis: ringAxis) }
        var t = 1.5
        var hit = false
        for _ in 0..<80 {
            let d = sdf(origin + dir * t)
            if d < 1e-3 { hit = true; break }
            t += d
            if t > 4.5 { break }
        }
        guard hit else { return background(bg, v) * groundShadow(origin, dir, s) }
        let p = origin + dir * t
        let e = 1e-3
        let n = V3(sdf(p + V3(e, 0, 0)) - sdf(p - V3(e, 0, 0)), sdf(p + V3(0, e, 0)) - sdf(p - V3(0, e, 0)),
                   sdf(p + V3(0, 0, e)) - sdf(p - V3(0, 0, e))).normalized
        var albedo = base
        if striped {
            // Horizontal bands in object space, 5 per object height.
            let band = Int(((p.y / s) * 4.5 + 10).rounded(.down))
            if band % 2 == 0 { albedo = albedo * 0.35 }
        }
        let diffuse = max(n.dot(light), 0)
        let ambient = bg == "dark" ? 0.12 : 0.28
        if !metal {
            return albedo * (ambient + 0.8 * diffuse)
        }
        let h = (light - dir).normalized
        let spec = pow(max(n.dot(h), 0), 80)
        let refl = dir - n * (2 * dir.dot(n))
        // A bright overhead softbox in the reflection, so metal reads as metal on every background.
        let env = background(bg, max(-1, min(1, refl.y))) + V3(0.8, 0.8, 0.8) * smoothstep(0.5, 0.8, refl.y)
        return albedo * (0.1 + 0.45 * diffuse) + (albedo * 0.5 + env * 0.5) * 0.35 + V3(1, 1, 1) * (1.2 * spec)
    }
}
