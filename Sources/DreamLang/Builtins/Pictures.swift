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
    }
}
