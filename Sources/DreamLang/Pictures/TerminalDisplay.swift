import Foundation
import DreamTensor
import DreamIO

/// How `show` can draw on the terminal the output goes to: an image protocol the terminal announces, or
/// 24-bit colour half-block characters (two pixels per cell, any colour terminal, tmux included).
public struct TerminalDisplay {
    public enum Kind: String { case kitty, iterm, halfBlocks = "half-blocks" }
    public var kind: Kind
    /// Text columns and rows available (the picture is scaled to fit).
    public var columns: Int, rows: Int
    public init(kind: Kind, columns: Int, rows: Int) { self.kind = kind; self.columns = columns; self.rows = rows }

    /// What the environment says about a terminal: kitty (`KITTY_WINDOW_ID`, `TERM=xterm-kitty`) or iTerm2
    /// and WezTerm (`TERM_PROGRAM`) draw images; inside tmux, and anywhere else, half-blocks.
    public static func detect(environment env: [String: String], columns: Int, rows: Int) -> TerminalDisplay {
        let inTmux = env["TMUX"] != nil
        var kind = Kind.halfBlocks
        if !inTmux {
            if env["KITTY_WINDOW_ID"] != nil || env["TERM"] == "xterm-kitty" { kind = .kitty }
            else if ["iTerm.app", "WezTerm"].contains(env["TERM_PROGRAM"] ?? "") { kind = .iterm }
        }
        if let forced = env["DREAM_SHOW"].flatMap(Kind.init(rawValue:)) { kind = forced }
        return TerminalDisplay(kind: kind, columns: max(columns, 8), rows: max(rows, 4))
    }

    /// The text that draws a grid [3, H, W] (values in [0, 1]).
    public func render(_ grid: Tensor) throws -> String {
        switch kind {
        case .halfBlocks: return try halfBlocks(grid)
        case .kitty:
            let data = Data(try PNG.encode(grid.unsqueezed(0))).base64EncodedString()
            var out = "", i = data.startIndex
            var first = true
            while i < data.endIndex {
                let j = data.index(i, offsetBy: 4096, limitedBy: data.endIndex) ?? data.endIndex
                let more = j < data.endIndex ? 1 : 0
                out += "\u{1B}_G" + (first ? "a=T,f=100," : "") + "m=\(more);" + data[i..<j] + "\u{1B}\\"
                first = false; i = j
            }
            return out + "\n"
        case .iterm:
            let png = try PNG.encode(grid.unsqueezed(0))
            return "\u{1B}]1337;File=inline=1;size=\(png.count);preserveAspectRatio=1:" + Data(png).base64EncodedString() + "\u{07}\n"
        }
    }

    /// One cell per two pixels, stacked: '▀' in the upper pixel's colour on the lower one's, the grid box-filtered
    /// down to the columns and rows available (never up).
    func halfBlocks(_ grid: Tensor) throws -> String {
        let (h, w) = (grid.shape[1], grid.shape[2])
        let scale = min(1, Double(columns) / Double(w), Double(2 * (rows - 1)) / Double(h))
        let tw = max(1, Int((Double(w) * scale).rounded(.down))), th = max(1, Int((Double(h) * scale).rounded(.down)))
        let g = grid.scalars
        func pixel(_ y: Int, _ x: Int) -> (Int, Int, Int) {
            // The mean over the source pixels this target pixel covers.
            let y0 = y * h / th, y1 = max(y0 + 1, (y + 1) * h / th), x0 = x * w / tw, x1 = max(x0 + 1, (x + 1) * w / tw)
            var rgb = [Float](repeating: 0, count: 3)
            for c in 0..<3 { for sy in y0..<y1 { for sx in x0..<x1 { rgb[c] += g[(c * h + sy) * w + sx] } } }
            let n = Float((y1 - y0) * (x1 - x0))
            let v = rgb.map { Int((min(max($0 / n, 0), 1) * 255).rounded()) }
            return (v[0], v[1], v[2])
        }
        var out = ""
        for y in stride(from: 0, to: th, by: 2) {
            for x in 0..<tw {
                let (r, gg, b) = pixel(y, x)
                out += "\u{1B}[38;2;\(r);\(gg);\(b)m"
                if y + 1 < th { let (r2, g2, b2) = pixel(y + 1, x); out += "\u{1B}[48;2;\(r2);\(g2);\(b2)m" } else { out += "\u{1B}[49m" }
                out += "▀"
            }
            out += "\u{1B}[0m\n"
        }
        return out
    }
}
