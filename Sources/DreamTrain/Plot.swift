import Foundation
import DreamTensor
import DreamIO

/// `dream-train plot OUT.png LOG.csv...`: the training curves (loss against step, log scale, one colour
/// per log) as a small PNG for the docs, drawn with dream's own tensors and PNG writer.
func plotLogs(_ logs: [String], to out: String, width: Int = 480, height: Int = 240) throws {
    var series: [[(Double, Double)]] = []
    for path in logs {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw FileError(path, "cannot read") }
        series.append(text.split(separator: "\n").dropFirst().compactMap { line in
            let f = line.split(separator: ",").compactMap { Double($0) }
            return f.count >= 2 && f[1] > 0 ? (f[0], f[1]) : nil
        })
    }
    let all = series.flatMap { $0 }
    guard !all.isEmpty else { throw FileError(logs.joined(separator: ", "), "no data rows") }
    let maxStep = all.map(\.0).max()!
    let lo = floor(log10(all.map(\.1).min()!)), hi = ceil(log10(all.map(\.1).max()!))
    let img = Tensor(repeating: 1, shape: [1, 3, height, width])
    let p = img.pointer, plane = width * height
    func dot(_ x: Int, _ y: Int, _ c: (Float, Float, Float)) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        p[y * width + x] = c.0; p[plane + y * width + x] = c.1; p[2 * plane + y * width + x] = c.2
    }
    let margin = 8
    func px(_ step: Double) -> Int { margin + Int(step / maxStep * Double(width - 2 * margin)) }
    func py(_ loss: Double) -> Int { height - margin - Int((log10(loss) - lo) / max(hi - lo, 1e-9) * Double(height - 2 * margin)) }
    // A gray line at each power of ten.
    var d = lo
    while d <= hi { for x in 0..<width { dot(x, py(pow(10, d)), (0.8, 0.8, 0.8)) }; d += 1 }
    let colours: [(Float, Float, Float)] = [(0.85, 0.2, 0.1), (0.1, 0.35, 0.85), (0.1, 0.6, 0.2)]
    for (i, s) in series.enumerated() {
        for j in 1..<max(s.count, 1) {
            let (x0, y0, x1, y1) = (px(s[j - 1].0), py(s[j - 1].1), px(s[j].0), py(s[j].1))
            let n = max(abs(x1 - x0), abs(y1 - y0), 1)
            for k in 0...n { dot(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n, colours[i % colours.count]) }
        }
    }
    try PNG.write(img, to: out)
    print(String(format: "%@: %d curves, steps 0…%.0f, loss 1e%.0f…1e%.0f (log scale, gray lines at powers of ten)", out, series.count, maxStep, lo, hi))
}
