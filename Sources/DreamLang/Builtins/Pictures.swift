import Foundation
import DreamTensor
import DreamIO

extension Registry {
    func registerPictures() {
        register(Builtin("show", [.positional("images", .tensor), .labeled("columns", .optional(.int), "images per row (default ⌈√N⌉)")],
                         doc: "Draws an image batch [N, 3, H, W] (a grid when several) in the terminal: with the kitty or iTerm2 image protocol where the terminal has one, otherwise in 24-bit colour half-block characters (tmux too). Outside a terminal it says so and draws nothing.",
                         example: "show(sample(D, n: 8, seed: 1), columns: 4)") { a, ip in
            let images = try a.tensor("images")
            guard images.rank == 4, images.shape[1] == 3, images.shape[0] > 0 else {
                throw ArgumentError("show: expected an image batch [N, 3, H, W], got \(shapeString(images.shape))", argument: "images")
            }
            if let c = a.optionalInt("columns"), c < 1 { throw ArgumentError("show: columns must be ≥ 1, got \(c)", argument: "columns") }
            guard let display = ip.display else {
                ip.warn("show: the output is not a terminal, so \(images.shape[0]) image\(images.shape[0] == 1 ? "" : "s") \(shapeString(images.shape)) were not drawn (save(\"FILE.png\", images) writes them)")
                return .none
            }
            ip.write(try display.render(try PNG.grid(images, columns: a.optionalInt("columns"))))
            return .none
        }, topic: "pictures")
        register(Builtin("plot", [.positional("path", .string), .positional("series", .any),
                                  .labeled("x", .optional(.any), "the x values, shared by every series (default 0, 1, 2, …)"),
                                  .labeled("title", .string, default: .string("")), .labeled("xlabel", .string, default: .string("")),
                                  .labeled("ylabel", .string, default: .string("")),
                                  .labeled("width", .int, default: .number(640)), .labeled("height", .int, default: .number(420))],
                         doc: "Writes a line chart as a PNG: axes with ticks, grid lines, a legend, a title and axis labels. series is a list of numbers or a 1-D tensor (one line), or a dictionary name → list or tensor (one line each, named in the legend); NaN and infinite values break a line.",
                         example: "plot(\"loss.png\", [\"loss\": D.losses], xlabel: \"step\")") { a, _ in
            func numbers(_ v: Value, _ what: String) throws -> [Double] {
                switch v {
                case .list(let xs):
                    return try xs.map { x -> Double in
                        switch x {
                        case .number(let d): return d
                        case .tensor(let t) where t.count == 1: return Double(t.pointer[0])
                        default: throw ArgumentError("plot: \(what) must hold numbers, found \(describeForError(x))", argument: "series")
                        }
                    }
                case .tensor(let t) where t.rank <= 1: return t.scalars.map(Double.init)
                case .range(let lo, let hi, let st): return stride(from: lo, to: hi, by: st).map(Double.init)
                default: throw ArgumentError("plot: \(what) must be a list of numbers or a 1-D tensor, got \(describeForError(v))", argument: "series")
                }
            }
            var named: [(String, [Double])] = []
            switch a["series"] {
            case .dict(let d):
                for k in d.keys { named.append((k, try numbers(d[k]!, "series \"\(k)\""))) }
            case let v: named = [("", try numbers(v, "series"))]
            }
            guard !named.isEmpty, named.allSatisfy({ !$0.1.isEmpty }) else { throw ArgumentError("plot: a series is empty", argument: "series") }
            let shared = try a.has("x") ? numbers(a["x"], "x") : nil
            var series: [LineChart.Series] = []
            for (name, ys) in named {
                let xs = shared ?? (0..<ys.count).map(Double.init)
                guard xs.count == ys.count else {
                    throw ArgumentError("plot: x has \(xs.count) values but series\(name.isEmpty ? "" : " \"\(name)\"") has \(ys.count)", argument: "x")
                }
                series.append(LineChart.Series(name: name, x: xs, y: ys))
            }
            let chart = try LineChart(series: series, width: try a.int("width"), height: try a.int("height"),
                                      title: try a.string("title"), xlabel: try a.string("xlabel"), ylabel: try a.string("ylabel"))
            let path = try a.string("path")
            guard path.lowercased().hasSuffix(".png") else { throw ArgumentError("plot: writes a PNG; the path must end in .png, got \(path)", argument: "path") }
            try PNG.write(try chart.render().unsqueezed(0), to: path)
            return .none
        }, topic: "pictures")
    }
}
