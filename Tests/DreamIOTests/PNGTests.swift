import Foundation
import XCTest
import DreamTestSupport
import DreamTensor
import DreamIO


/// The pixel formula of scripts/make-png-fixtures.py.
func v8(_ x: Int, _ y: Int, _ c: Int) -> Float { Float((x * 37 + y * 11 + c * 53) % 256) / 255 }

final class PNGTests: XCTestCase {
    var dir = ""
    override func setUp() { dir = tempDir() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func pixel(_ t: Tensor, _ c: Int, _ y: Int, _ x: Int) -> Float { t.pointer[(c * t.shape[2] + y) * t.shape[3] + x] }

    func testReadsEveryColourTypeAndDepth() throws {
        for (name, channels) in [("rgb8", 3), ("rgb16", 3), ("rgba8", 3), ("gray8", 1), ("gray16", 1), ("graya8", 1)] {
            let t = try PNG.read(pngDir + "/\(name).png")
            XCTAssertEqual(t.shape, [1, 3, 5, 7], name)
            for y in 0..<5 { for x in 0..<7 { for c in 0..<3 {
                let expected = v8(x, y, channels == 1 ? 0 : c)
                // RGBA/GA pixels with zero alpha carry no colour after libpng's conversion.
                let alphaZero = (name == "rgba8" || name == "graya8") && (x * 50 + y * 20) % 256 == 0
                if !alphaZero {
                    XCTAssertEqual(pixel(t, c, y, x), expected, accuracy: name.hasSuffix("16") ? 1e-4 : 1e-6, "\(name) (\(x),\(y)) c\(c)")
                }
            } } }
        }
    }

    func testReadsPalette() throws {
        let t = try PNG.read(pngDir + "/palette.png")
        let palette: [[Float]] = [[10, 20, 30], [200, 100, 0], [0, 255, 128], [77, 77, 77]]
        for y in 0..<5 { for x in 0..<7 { for c in 0..<3 {
            XCTAssertEqual(pixel(t, c, y, x), palette[(x + y) % 4][c] / 255, accuracy: 1e-6)
        } } }
    }

    func testMalformedPNGsAreRefusedWithTheProblem() {
        for (name, fragment) in [("bad-crc", "CRC"), ("truncated", "invalid PNG"), ("not-a-png", "not a PNG"),
                                 ("empty", "empty"), ("absurd", "absurd"), ("missing", "no such file")] {
            let path = pngDir + "/\(name).png"
            XCTAssertThrowsError(try PNG.read(path), name) { error in
                XCTAssertTrue("\(error)".hasPrefix(path + ": "), "\(error)")
                XCTAssertTrue("\(error)".contains(fragment), "\(name): '\(error)' should mention '\(fragment)'")
            }
        }
    }

    func testWriteThenReadIsExactOn8BitValues() throws {
        let values = (0..<90).map { (i: Int) -> Float in Float((i * 29) % 256) / 255 }
        let img = try Tensor(values, shape: [1, 3, 6, 5])
        try PNG.write(img, to: dir + "/a.png")
        XCTAssertEqual(try PNG.read(dir + "/a.png").scalars, values)
        // Out-of-range values are clamped.
        try PNG.write(try Tensor([-1, 2, 0.5], shape: [1, 3, 1, 1]), to: dir + "/c.png")
        XCTAssertEqual(try PNG.read(dir + "/c.png").scalars, [0, 1, 128 / 255])
    }

    func testWritesRGBAAndGrids() throws {
        let rgba = try Tensor([0.2, 0.4, 0.6, 1.0], shape: [1, 4, 1, 1])
        try PNG.write(rgba, to: dir + "/rgba.png")
        XCTAssertEqual(try PNG.read(dir + "/rgba.png").scalars, [51 / 255, 102 / 255, 153 / 255])
        let batch = try stack((0..<5).map { Tensor(repeating: Float($0) / 4, shape: [3, 4, 6]) }, axis: 0)
        try PNG.write(batch, to: dir + "/grid.png", columns: 2)
        let g = try PNG.read(dir + "/grid.png")
        XCTAssertEqual(g.shape, [1, 3, 3 * 4 + 2 * 2, 2 * 6 + 2])   // 3 rows × 2 columns, 2-px gaps
        XCTAssertEqual(pixel(g, 0, 0, 0), 0)
        XCTAssertEqual(pixel(g, 0, 0, 8), 1 / 4, accuracy: 1e-2)  // second column
        XCTAssertEqual(pixel(g, 1, 12, 0), 1, accuracy: 1e-6)     // image 4 (value 1) in row 3
        XCTAssertEqual(pixel(g, 0, 12, 9), 1, accuracy: 1e-6)     // empty cell stays white
    }

    func testBadBatchIsRefusedAndLeavesNothing() throws {
        let path = dir + "/x.png"
        XCTAssertThrowsError(try PNG.write(Tensor(zeros: [2, 2, 4, 4]), to: path)) { XCTAssertTrue("\($0)".contains(path)) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }
}
