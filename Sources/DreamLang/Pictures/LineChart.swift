import Foundation
import DreamTensor

/// A line chart as an image [3, H, W]: axes with ticks at round numbers, light grid lines, one coloured line
/// per series, a legend, a title and axis labels. `pixel` maps data to the image, so a test can find the lines.
public struct LineChart {
    public struct Series {
        public let name: String
        public let x: [Double], y: [Double]
        public init(name: String, x: [Double], y: [Double]) { self.name = name; self.x = x; self.y = y }
    }
    public let series: [Series]
    public var title = "", xlabel = "", ylabel = ""
    public let width: Int, height: Int
    /// The colours of the lines, in order (matplotlib's first ten), RGB in [0, 1].
    public static let palette: [(Float, Float, Float)] = [
        (0.122, 0.467, 0.706), (1.0, 0.498, 0.055), (0.173, 0.627, 0.173), (0.839, 0.153, 0.157), (0.580, 0.404, 0.741),
        (0.549, 0.337, 0.294), (0.890, 0.467, 0.761), (0.498, 0.498, 0.498), (0.737, 0.741, 0.133), (0.090, 0.745, 0.812)]
    static let textScale = 2

    /// The plotting area in pixels (left, top, right, bottom) and the data ranges on the axes.
    public let area: (left: Int, top: Int, right: Int, bottom: Int)
    public let xTicks: [Double], yTicks: [Double]
    public var xRange: (Double, Double) { (xTicks.first!, xTicks.last!) }
    public var yRange: (Double, Double) { (yTicks.first!, yTicks.last!) }

    public init(series: [Series], width: Int = 640, height: Int = 420, title: String = "", xlabel: String = "", ylabel: String = "") throws {
        try require(!series.isEmpty, "nothing to plot")
        try require(width >= 160 && height >= 120 && width * height <= 1 << 24, "a chart must be 160×120 to 4096×4096 pixels, got \(width)×\(height)")
        let xs = series.flatMap { s in zip(s.x, s.y).filter { $0.1.isFinite && $0.0.isFinite }.map(\.0) }
        let ys = series.flatMap { s in s.y.filter(\.isFinite) }
        try require(!ys.isEmpty, "every value to plot is NaN or infinite")
        self.series = series; self.width = width; self.height = height
        self.title = title; self.xlabel = xlabel; self.ylabel = ylabel
        xTicks = LineChart.ticks(xs.min()!, xs.max()!)
        yTicks = LineChart.ticks(ys.min()!, ys.max()!)
        let s = LineChart.textScale, labelWidth = yTicks.map { PixelFont.width(of: LineChart.label($0), scale: s) }.max() ?? 0
        let left = 14 + labelWidth + (ylabel.isEmpty ? 0 : 8 * s)
        let top = title.isEmpty ? 16 : 16 + 8 * s
        area = (left, top, width - 20, height - (xlabel.isEmpty ? 12 + 8 * s : 18 + 15 * s))
    }

    /// Round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about five of them.
    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        var (a, b) = (lo, hi)
        if a == b { a -= Swift.max(1, Swift.abs(a) * 0.1); b += Swift.max(1, Swift.abs(b) * 0.1) }
        let raw = (b - a) / 5, mag = Foundation.pow(10, (Foundation.log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw }!
        let first = (a / step).rounded(.down), last = (b / step).rounded(.up)
        return stride(from: first, through: last, by: 1).map { $0 * step }
    }

    /// A tick's text: up to 4 significant digits, no trailing zeros.
    static func label(_ v: Double) -> String {
        let a = Swift.abs(v)
        if a != 0 && (a >= 1e5 || a < 1e-3) { return String(format: "%.1e", v) }
        var s = String(format: "%.4g", v == 0 ? 0 : v)
        if s.contains(".") && !s.contains("e") { while s.hasSuffix("0") { s.removeLast() }; if s.hasSuffix(".") { s.removeLast() } }
        return s
    }

    /// Where a data point lands in the image (column, row).
    public func pixel(x: Double, y: Double) -> (Int, Int) {
        let (x0, x1) = xRange, (y0, y1) = yRange
        let px = Double(area.left) + (x - x0) / (x1 - x0) * Double(area.right - area.left)
        let py = Double(area.bottom) - (y - y0) / (y1 - y0) * Double(area.bottom - area.top)
        return (Int(px.rounded()), Int(py.rounded()))
    }

    /// The legend's swatch for series i: its rectangle (left, top, right, bottom). The legend sits in the
    /// corner of the plotting area that the fewest data points fall in.
    public func legendSwatch(_ i: Int) -> (Int, Int, Int, Int) {
        let (left, top) = legendOrigin(corner: legendCorner)
        let s = LineChart.textScale, row = 7 * s + 4
        return (left, top + i * row + 2 * s, left + 16, top + i * row + 4 * s)
    }

    var legendSize: (Int, Int) {
        let s = LineChart.textScale
        let textWidth = series.map { PixelFont.width(of: $0.name, scale: s) }.max() ?? 0
        return (16 + 8 + textWidth + 12, series.count * (7 * s + 4) + 12)
    }

    /// The legend's top left (of its first swatch row) in corner 0 top right, 1 top left, 2 bottom right, 3 bottom left.
    func legendOrigin(corner: Int) -> (Int, Int) {
        let (w, h) = legendSize
        let left = corner % 2 == 0 ? area.right - w : area.left + 12
        let top = corner < 2 ? area.top + 10 : area.bottom - h - 6
        return (left, top)
    }

    var legendCorner: Int {
        let (w, h) = legendSize
        let points = series.flatMap { s in zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite }.map { pixel(x: $0.0, y: $0.1) } }
        // Sample the lines between points too, so a segment crossing a corner counts.
        var samples = points
        for s in series {
            let p = zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite }.map { pixel(x: $0.0, y: $0.1) }
            for (a, b) in zip(p, p.dropFirst()) { for k in 1..<8 { samples.append((a.0 + (b.0 - a.0) * k / 8, a.1 + (b.1 - a.1) * k / 8)) } }
        }
        return (0..<4).min { c1, c2 in
            func count(_ c: Int) -> Int {
                let (l, t) = legendOrigin(corner: c)
                return samples.filter { $0.0 >= l - 8 && $0.0 <= l + w && $0.1 >= t - 10 && $0.1 <= t + h }.count
            }
            return count(c1) < count(c2)
        }!
    }

    public func render() -> Tensor {
        var canvas = Canvas(width: width, height: height)
        let s = LineChart.textScale
        // Grid lines and ticks.
        for t in xTicks {
            let (px, _) = pixel(x: t, y: yRange.0)
            canvas.line(px, area.top, px, area.bottom, (0.9, 0.9, 0.9), thickness: 1)
            canvas.line(px, area.bottom, px, area.bottom + 5, (0, 0, 0), thickness: 1)
            let text = LineChart.label(t)
            canvas.text(text, px - PixelFont.width(of: text, scale: s) / 2, area.bottom + 9, scale: s)
        }
        for t in yTicks {
            let (_, py) = pixel(x: xRange.0, y: t)
            canvas.line(area.left, py, area.right, py, (0.9, 0.9, 0.9), thickness: 1)
            canvas.line(area.left - 5, py, area.left, py, (0, 0, 0), thickness: 1)
            let text = LineChart.label(t)
            canvas.text(text, area.left - 8 - PixelFont.width(of: text, scale: s), py - 5 * s / 2, scale: s)
        }
        // Axes.
        canvas.line(area.left, area.top, area.left, area.bottom, (0, 0, 0), thickness: 1)
        canvas.line(area.left, area.bottom, area.right, area.bottom, (0, 0, 0), thickness: 1)
        // Lines: consecutive finite points joined; a NaN or infinity breaks the line.
        for (i, ser) in series.enumerated() {
            let c = LineChart.palette[i % LineChart.palette.count]
            var last: (Int, Int)?
            for (x, y) in zip(ser.x, ser.y) {
                guard x.isFinite && y.isFinite else { last = nil; continue }
                let p = pixel(x: x, y: y)
                if let q = last { canvas.line(q.0, q.1, p.0, p.1, c, thickness: 2) } else { canvas.line(p.0, p.1, p.0, p.1, c, thickness: 2) }
                last = p
            }
        }
        // Legend, title, labels.
        if series.count > 1 || !series[0].name.isEmpty {
            let (l0, t0, _, _) = legendSwatch(0), (_, _, _, bn) = legendSwatch(series.count - 1)
            let right = l0 + legendSize.0 - 6
            canvas.fill(l0 - 6, t0 - 8, right, bn + 10, (1, 1, 1))
            canvas.rectangle(l0 - 6, t0 - 8, right, bn + 10, (0.6, 0.6, 0.6))
            for (i, ser) in series.enumerated() {
                let (l, t, r, b) = legendSwatch(i)
                canvas.fill(l, t, r, b, LineChart.palette[i % LineChart.palette.count])
                canvas.text(ser.name, r + 8, t - 2 * s + 1, scale: s)
            }
        }
        if !title.isEmpty { canvas.text(title, (area.left + area.right - PixelFont.width(of: title, scale: s)) / 2, 10, scale: s) }
        if !xlabel.isEmpty { canvas.text(xlabel, (area.left + area.right - PixelFont.width(of: xlabel, scale: s)) / 2, height - 8 * s, scale: s) }
        if !ylabel.isEmpty { canvas.textVertical(ylabel, 6, (area.top + area.bottom + PixelFont.width(of: ylabel, scale: s)) / 2, scale: s) }
        return canvas.image
    }
}

/// An RGB image being drawn on (white to start), clipped at its edges.
struct Canvas {
    let width: Int, height: Int
    var pixels: [Float]
    init(width: Int, height: Int) { self.width = width; self.height = height; pixels = [Float](repeating: 1, count: 3 * width * height) }

    mutating func set(_ x: Int, _ y: Int, _ c: (Float, Float, Float)) {
        guard x >= 0 && x < width && y >= 0 && y < height else { return }
        let i = y * width + x, plane = width * height
        pixels[i] = c.0; pixels[plane + i] = c.1; pixels[2 * plane + i] = c.2
    }

    mutating func fill(_ l: Int, _ t: Int, _ r: Int, _ b: Int, _ c: (Float, Float, Float)) {
        for y in t..<max(t, b) { for x in l..<max(l, r) { set(x, y, c) } }
    }

    mutating func rectangle(_ l: Int, _ t: Int, _ r: Int, _ b: Int, _ c: (Float, Float, Float)) {
        line(l, t, r, t, c, thickness: 1); line(r, t, r, b, c, thickness: 1)
        line(r, b, l, b, c, thickness: 1); line(l, b, l, t, c, thickness: 1)
    }

    /// A straight line, `thickness` pixels square at every step.
    mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (Float, Float, Float), thickness: Int) {
        let n = max(abs(x1 - x0), abs(y1 - y0), 1)
        let lo = -(thickness - 1) / 2, hi = thickness / 2
        for k in 0...n {
            let x = x0 + Int((Double(x1 - x0) * Double(k) / Double(n)).rounded()), y = y0 + Int((Double(y1 - y0) * Double(k) / Double(n)).rounded())
            for dy in lo...hi { for dx in lo...hi { set(x + dx, y + dy, c) } }
        }
    }

    mutating func text(_ s: String, _ x: Int, _ y: Int, scale: Int) {
        var cx = x
        for ch in s {
            let g = PixelFont.glyph(ch)
            for (row, bits) in g.enumerated() {
                for (col, bit) in bits.enumerated() where bit == "#" { fill(cx + col * scale, y + row * scale, cx + (col + 1) * scale, y + (row + 1) * scale, (0, 0, 0)) }
            }
            cx += (PixelFont.width + 1) * scale
        }
    }

    /// Text read bottom to top, starting at (x, y) — for the y axis's label.
    mutating func textVertical(_ s: String, _ x: Int, _ y: Int, scale: Int) {
        var cy = y
        for ch in s {
            let g = PixelFont.glyph(ch)
            for (row, bits) in g.enumerated() {
                for (col, bit) in bits.enumerated() where bit == "#" { fill(x + row * scale, cy - (col + 1) * scale, x + (row + 1) * scale, cy - col * scale, (0, 0, 0)) }
            }
            cy -= (PixelFont.width + 1) * scale
        }
    }

    var image: Tensor { try! Tensor(pixels, shape: [3, height, width]) }
}
