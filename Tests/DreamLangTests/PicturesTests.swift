import Foundation
import XCTest
import DreamLang
import DreamTensor

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
