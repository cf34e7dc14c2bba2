import Foundation
import DreamTensor

/// Progress bars on stderr: on a terminal a bar redrawn in place with rate and ETA; otherwise one line
/// every few seconds; nothing with --quiet.
final class TerminalProgress: ProgressReporter {
    let label: String, total: Int, isTTY: Bool
    let start = Date()
    var lastDraw = Date.distantPast
    var finished = false

    init(label: String, total: Int, isTTY: Bool) { self.label = label; self.total = total; self.isTTY = isTTY }

    /// The reporters the command line's context makes.
    static func factory(quiet: Bool) -> (_ label: String, _ total: Int) -> ProgressReporter {
        let tty = isatty(2) != 0
        return { label, total in
            quiet ? SilentProgress() as ProgressReporter : TerminalProgress(label: label, total: total, isTTY: tty)
        }
    }

    func update(_ done: Int, note: String) {
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= (isTTY ? 0.1 : 5) || done >= total else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let frac = total > 0 ? Double(done) / Double(total) : 0
        let stats = "\(done)/\(total) \(String(format: rate >= 1 ? "%.1f it/s" : "%.2f s/it", rate >= 1 ? rate : (rate > 0 ? 1 / rate : 0))) ETA \(clock(eta))\(note.isEmpty ? "" : "  " + note)"
        if isTTY {
            let width = 24, filled = Int(frac * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(label) \(bar) \(stats)".utf8))
        } else {
            FileHandle.standardError.write(Data("\(label): \(stats)\n".utf8))
        }
    }

    func finish() {
        guard !finished else { return }
        finished = true
        if isTTY { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }

    func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}
