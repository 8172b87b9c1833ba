# Print the top-level string value of `key` (awk -v key=...) from a JSON
# object; or, with -v obj=..., every "name<TAB>value" string pair of the
# top-level object member `obj` (public_keys: {"name": "ssh-..."}); or, with
# -v arr=..., one "path<TAB>content_path" line per object of the top-level
# array member `arr` (files: [{"content_path": "/content/0000", "path": ...}]).
# A tiny scanner instead of sed, so a "name" nested in keys/meta or
# odd whitespace/newlines cannot confuse it. Escapes are left as they are.

function skip_ws() {
    while (i <= n && substr(s, i, 1) ~ /[ \t\r\n]/)
        i++
}

# i points at an opening quote; returns the raw string, i after the close.
function read_str(    c, out) {
    out = ""
    i++
    while (i <= n) {
        c = substr(s, i, 1)
        if (c == "\\") { out = out substr(s, i, 2); i += 2; continue }
        if (c == "\"") { i++; return out }
        out = out c
        i++
    }
    return out
}

{ s = s $0 "\n" }

END {
    n = length(s); i = 1; depth = 0
    while (i <= n) {
        c = substr(s, i, 1)
        if (c == "\"") {
            t = read_str()
            if (depth == 1 || (inobj && depth == 2) || (inarr && depth == 3)) {
                skip_ws()
                if (substr(s, i, 1) == ":") {
                    i++
                    skip_ws()
                    if (inarr && depth == 3) {
                        if (substr(s, i, 1) == "\"")
                            item[t] = read_str()
                        continue
                    }
                    if (inobj && substr(s, i, 1) == "\"") {
                        print t "\t" read_str()
                        continue
                    }
                    if (depth == 1 && obj != "" && t == obj && substr(s, i, 1) == "{")
                        inobj = 1
                    if (depth == 1 && arr != "" && t == arr && substr(s, i, 1) == "[")
                        inarr = 1
                    if (depth == 1 && key != "" && t == key && substr(s, i, 1) == "\"") {
                        print read_str()
                        exit 0
                    }
                }
            }
            continue
        }
        if (c == "{" || c == "[") depth++
        else if (c == "}" || c == "]") {
            depth--
            if (inobj && depth == 1) exit 0
            if (inarr && c == "}" && depth == 2) {
                print item["path"] "\t" item["content_path"]
                split("", item)
            }
            if (inarr && depth == 1) exit 0
        }
        i++
    }
}
