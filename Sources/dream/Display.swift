import Foundation
import DreamLang

/// The terminal standard output goes to, for `show` (nil when it is a file or a pipe).
func terminalDisplay() -> TerminalDisplay? {
    guard isatty(1) != 0 else { return nil }
    var ws = winsize()
    let env = ProcessInfo.processInfo.environment
    let known = ioctl(1, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_col > 0
    let columns = known ? Int(ws.ws_col) : Int(env["COLUMNS"] ?? "") ?? 80
    let rows = known ? Int(ws.ws_row) : Int(env["LINES"] ?? "") ?? 24
    return TerminalDisplay.detect(environment: env, columns: columns, rows: rows)
}
