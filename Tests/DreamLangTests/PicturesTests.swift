import Foundation
import XCTest
import DreamTestSupport
import DreamLang
import DreamTensor
import DreamIO

/// `show`'s drawing: half-block cells against hand-computed colours, the box filter that fits a picture to
/// the terminal, the image protocols' framing, and what the environment selects.
final class PicturesTests: XCTestCase {
    func testHalfBlocksAreTheUpperPixelOnTheLowerOne() throws {
        let d = TerminalDisplay(kind: .halfBlocks, columns: 80, rows: 24)
        // [3, H 3, W 2]: rows (red, green), (blue, white), (black, gray 0.5); the last row has no pixel below it.
        let r: [Float] = [1, 0, 0, 1, 0, 0.5], g: [Float] = [0, 1, 0, 1, 0, 0.5], b: [Float] = [0, 0, 1, 1, 0, 0.5]
        let out = try d.render(Tensor(r + g + b, shape: [3, 3, 2]))
        let e = "\u{1B}["
        XCTAssertEqual(out, "\(e)38;2;255;0;0m\(e)48;2;0;0;255m▀\(e)38;2;0;255;0m\(e)48;2;255;255;255m▀\(e)0m\n"
                          + "\(e)38;2;0;0;0m\(e)49m▀\(e)38;2;128;128;128m\(e)49m▀\(e)0m\n")
    }

    func testABigPictureIsBoxFilteredToTheTerminal() throws {
        // An 8×8 checkerboard on 4 columns: each cell pixel averages a 2×2 block, 0.5 everywhere.
        let d = TerminalDisplay(kind: .halfBlocks, columns: 4, rows: 24)
        let board = (0..<64).map { Float(($0 / 8 + $0 % 8) % 2) }
        let out = try d.render(Tensor(board + board + board, shape: [3, 8, 8]))
        let lines = out.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines.map { $0.components(separatedBy: "▀").count - 1 }, [4, 4])
        XCTAssertFalse(out.contains("255"), out)
        XCTAssertTrue(out.contains("38;2;128;128;128m"), out)
    }

    func testImageProtocolsCarryThePNG() throws {
        let img = Tensor.rand([3, 4, 4], seed: 1)
        let kitty = try TerminalDisplay(kind: .kitty, columns: 80, rows: 24).render(img)
        XCTAssertTrue(kitty.hasPrefix("\u{1B}_Ga=T,f=100,m=0;"), kitty)
        let iterm = try TerminalDisplay(kind: .iterm, columns: 80, rows: 24).render(img)
        XCTAssertTrue(iterm.hasPrefix("\u{1B}]1337;File=inline=1;size="), iterm)
        // The payload decodes to a PNG (its signature).
        let payload = String(kitty.dropFirst("\u{1B}_Ga=T,f=100,m=0;".count).prefix { $0 != "\u{1B}" })
        XCTAssertEqual(Array(try XCTUnwrap(Data(base64Encoded: payload)).prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }

    func testTheEnvironmentChoosesTheProtocol() {
        func kind(_ env: [String: String]) -> TerminalDisplay.Kind { TerminalDisplay.detect(environment: env, columns: 80, rows: 24).kind }
        XCTAssertEqual(kind(["TERM": "xterm-256color"]), .halfBlocks)
        XCTAssertEqual(kind(["TERM": "xterm-kitty"]), .kitty)
        XCTAssertEqual(kind(["KITTY_WINDOW_ID": "1"]), .kitty)
        XCTAssertEqual(kind(["TERM_PROGRAM": "iTerm.app"]), .iterm)
        XCTAssertEqual(kind(["TERM_PROGRAM": "iTerm.app", "TMUX": "/tmp/tmux"]), .halfBlocks)
        XCTAssertEqual(kind(["TERM": "xterm-kitty", "DREAM_SHOW": "half-blocks"]), .halfBlocks)
    }
}

/// `plot`'s PNG, read back and checked on pixels: the lines pass through the points given, in their
/// colours; the axes are black lines at the ranges' ends; the legend shows each colour beside dark text.
final class PlotTests: XCTestCase {
    func testTheLinesPassThroughThePointsAndTheAxesAndLegendAreDrawn() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("chart.png").path
        let xs: [Double] = [0, 3, 7, 12, 20], a: [Double] = [1, 4, 2, 8, 5], b: [Double] = [9, 7, 7.5, 3, 0.5]
        let interp = Interpreter(registry: Registry.standard())
        try interp.run(SourceFile(name: "t", text: "plot(\"\(path)\", [\"first\": \(a), \"second\": \(b)], x: \(xs), title: \"t\", xlabel: \"x\", ylabel: \"y\")"))
        let img = try PNG.read(path)   // [1, 3, H, W]
        let (h, w) = (img.shape[2], img.shape[3])
        XCTAssertEqual([h, w], [420, 640])
        let px = img.scalars
        func rgb(_ x: Int, _ y: Int) -> (Float, Float, Float) { (px[y * w + x], px[h * w + y * w + x], px[2 * h * w + y * w + x]) }
        func near(_ c: (Float, Float, Float), _ d: (Float, Float, Float)) -> Bool { abs(c.0 - d.0) < 0.01 && abs(c.1 - d.1) < 0.01 && abs(c.2 - d.2) < 0.01 }
        let chart = try LineChart(series: [.init(name: "first", x: xs, y: a), .init(name: "second", x: xs, y: b)], title: "t", xlabel: "x", ylabel: "y")
        // Round ticks that cover the data: 0…20 and 0…10.
        XCTAssertEqual(chart.xRange.0, 0); XCTAssertEqual(chart.xRange.1, 20)
        XCTAssertEqual(chart.yRange.0, 0); XCTAssertEqual(chart.yRange.1, 10)
        // Every given point is drawn in its series' colour (the second line is drawn over the first, so its
        // points are checked everywhere, the first's where the lines are apart).
        for (i, ys) in [a, b].enumerated() {
            let colour = LineChart.palette[i]
            for (x, y) in zip(xs, ys) where i == 1 || abs(y - b[xs.firstIndex(of: x)!]) > 1 {
                let (cx, cy) = chart.pixel(x: x, y: y)
                XCTAssertTrue(near(rgb(cx, cy), colour), "series \(i) at (\(x), \(y)) → pixel (\(cx), \(cy)) is \(rgb(cx, cy))")
            }
            // Half-way along the first segment, too.
            let (mx, my) = chart.pixel(x: (xs[0] + xs[1]) / 2, y: (ys[0] + ys[1]) / 2)
            XCTAssertTrue((-1...1).contains { d in near(rgb(mx, my + d), colour) }, "series \(i) between its first two points")
        }
        // The axes: black columns and rows at the ranges' ends, the length of the plotting area.
        let (x0, y0) = chart.pixel(x: 0, y: 0), (x1, y1) = chart.pixel(x: 20, y: 10)
        for y in stride(from: y1, through: y0, by: 7) where !near(rgb(x0, y), LineChart.palette[1]) && !near(rgb(x0, y), LineChart.palette[0]) {
            XCTAssertTrue(near(rgb(x0, y), (0, 0, 0)), "y axis at row \(y)")
        }
        for x in stride(from: x0, through: x1, by: 7) { XCTAssertTrue(near(rgb(x, y0), (0, 0, 0)) || near(rgb(x, y0), LineChart.palette[1]), "x axis at column \(x)") }
        // Away from the lines the plotting area is white or a light grid line.
        let (ex, ey) = chart.pixel(x: 17, y: 3.3)
        XCTAssertTrue(rgb(ex, ey).0 > 0.85, "empty area at (17, 3.3)")
        // The legend: each swatch in its colour, dark text to its right.
        for i in 0..<2 {
            let (l, t, r, bt) = chart.legendSwatch(i)
            XCTAssertTrue(near(rgb((l + r) / 2, (t + bt) / 2), LineChart.palette[i]), "swatch \(i)")
            let dark = (r + 8..<r + 60).contains { x in (t - 6...bt + 6).contains { y in rgb(x, y).0 < 0.1 } }
            XCTAssertTrue(dark, "legend text \(i)")
        }
        // Bad input: mismatched lengths, nothing finite.
        XCTAssertThrowsError(try interp.run(SourceFile(name: "t", text: "plot(\"\(path)\", [1, 2], x: [1])"))) { e in
            XCTAssertTrue("\(e)".contains("x has 1 values but series has 2"), "\(e)")
        }
        XCTAssertThrowsError(try LineChart(series: [.init(name: "", x: [0], y: [.nan])]))
    }
}
