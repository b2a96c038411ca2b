//! The keepalived.conf subset users run, read into the [model](super::model).
//!
//! Three stages, each total (any input gives a model or diagnostics, never a panic; a fuzz target
//! holds us to that):
//!
//! 1. **Lexer** (keepalived's `lib/parser.c` rules): line-oriented; `#` or `!` start a comment
//!    anywhere outside double quotes, even inside a word (`auth_pass pa#ss` is `pa`); `\#` and
//!    `\!` are a literal `#`/`!`; `"…"` makes one token, quotes stripped, backslash escapes
//!    inside; a trailing `\` continues the line; `{` and `}` outside quotes are tokens of their
//!    own wherever they sit; `include PATTERN` (globs, `{a,b}`, relative to the including
//!    file's directory, also for a bare `keepalived.conf` read from the current directory)
//!    splices files in at line level, as keepalived does. Before that, keepalived's line
//!    processing: `@ID`/`@^ID` lines kept or dropped by the config id (`-i`, default the host
//!    name up to its first dot); `$NAME=value` definitions (a value ending in `\` continues
//!    on the following lines) and `$NAME`/`${NAME}` substitution, repeated on the result, with
//!    keepalived's `$_PWD`, `$_INSTANCE`, `$_HASH`, `$_BANG` (not `$_RANDOM`, `~SEQ`, `~LST`:
//!    reported). An undefined `$NAME` outside quotes stays as it is, with a warning.
//! 2. **Tree**: keyword lines and `{ … }` blocks, where `{` may open on the next line. An extra
//!    `}` is an error ("Extra '}' found"), so is a block left open at the end.
//! 3. **Interpretation** of `global_defs`, `vrrp_instance`, `vrrp_script`, `vrrp_sync_group`.
//!    Keywords are case-sensitive. Unknown keywords and blocks (LVS `virtual_server`, SNMP …)
//!    are skipped with balanced braces and reported with file:line (`--strict` makes them
//!    errors), never silently ignored.
//!
//! Keywords given twice (audited against keepalived 2.2.7's handlers): the first wins, with
//! keepalived's warning, for the `notify*` scripts of an instance or a sync group, a sync
//! group's `group` list, a `track_interface` or `track_script` entry naming one already
//! tracked, and `state BACKUP` after `MASTER`; blocks (`virtual_ipaddress`, `unicast_peer`,
//! `track_*`) add up; every other keyword is last-wins, silently, as in keepalived. A
//! `vrrp_instance` name given twice is refused (keepalived reports it and keeps the first), so
//! is a `vrrp_script` name (keepalived silently tracks the first).
//!
//! Where keepalived warns and fixes a value up, we warn (quoting its message) and fix it up the
//! same way. Where keepalived logs an invalid number or address and falls back to a default
//! (`priority 256` → 100, an out-of-range VRID, an unparsable VIP), we refuse the configuration
//! with file:line:column instead: silently running a different router than the one written is
//! the failure an operator finds hardest to see.
//!
//! Deliberate differences, all found by running keepalived 2.2.7 on test files:
//! * keepalived 2.2.7 does not skip unknown blocks: every inner line is an "Unknown keyword" and
//!   the unknown block's `}` closes the *enclosing* block. We skip the block whole.
//! * keepalived 2.2.7 resolves `track_script` names while parsing, so a `vrrp_script` defined
//!   after the instance is "not found, ignoring". We resolve by name anywhere and warn.
//! * keepalived 2.2.7 only honours a trailing `\` in `$NAME=` definitions; a VIP line split with
//!   `\` is "invalid IP". We continue the line, as keepalived.conf(5) documents.
//! * `\#` in an unquoted value is documented as an escape, but keepalived 2.2.7's VRRP process
//!   still cut `auth_pass ab\#cd` to `ab`. We keep `ab#cd` and warn.
//! * Mixed address families in `virtual_ipaddress` are refused (keepalived skips the odd one).
//! * `advert_int` above 255 s: keepalived's parser rejects the value and keeps the default 1 s
//!   ("Advert interval (300) not valid! … ignoring"); we do the same, so that peers agree.
//! * The v3 IPv4 checksum variant is selected with `v3_checksum_as_v2 [true|false]` (per instance
//!   or in `global_defs`), the keyword keepalived 2.2.8 introduced (commit b57d7d7a); 2.2.7 does
//!   not know it.

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
};

use super::{
    diagnostics::{Category, ConfigError, Loaded, Location, Sink},
    model::{
        Auth, Config, Family, FileInit, Garp, Global, InitialState, Instance, NotifyCommand,
        ParamMatch, Scope, Script, SourceLoc, SyncGroup, TrackFile, TrackInterface, TrackProcess,
        TrackScript, TrackedFile, TrackedProcess, V3Checksum, Version, Vip,
    },
    validate,
};
use crate::units::{Centis, Priority, Vrid};

mod routes;

/// How deep `include` may nest.
const MAX_INCLUDE_DEPTH: usize = 8;
/// How deep blocks may nest (keepalived's grammar needs 3).
const MAX_BLOCK_DEPTH: usize = 32;
/// Most files one include pattern may expand to.
const MAX_INCLUDE_FILES: usize = 256;

/// Parse keepalived.conf text held in memory. `include` lines are reported and ignored (there is
/// no directory to resolve them against); use [`parse_file`] or [`super::load`] for files.
pub fn parse_str(file_name: &str, text: &str) -> Result<Loaded, ConfigError> {
    parse_inner(file_name, text, None, &super::LoadOptions::default())
}

/// [`parse_str`] with options (the config id for `@id` lines).
pub fn parse_str_with(
    file_name: &str,
    text: &str,
    options: &super::LoadOptions,
) -> Result<Loaded, ConfigError> {
    parse_inner(file_name, text, None, options)
}

/// Parse a keepalived.conf file, following its `include` lines relative to its directory.
pub fn parse_file(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_text_at(path, &text, &super::LoadOptions::default())
}

/// Parse `text` read from `path` (includes resolved relative to it).
pub(crate) fn parse_text_at(
    path: &Path,
    text: &str,
    options: &super::LoadOptions,
) -> Result<Loaded, ConfigError> {
    let dir = file_dir(path);
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    parse_inner(
        &path.display().to_string(),
        text,
        Some((dir, canonical)),
        options,
    )
}

/// The directory a file's relative `include`s resolve against: keepalived changes into the
/// directory of each file it opens (when its name has one) and globs relative to that, so a
/// bare `keepalived.conf` means the current directory, never `/`.
fn file_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `at`: the directory includes are relative to, and the file's canonical path (for loops).
fn parse_inner(
    file_name: &str,
    text: &str,
    at: Option<(PathBuf, PathBuf)>,
    options: &super::LoadOptions,
) -> Result<Loaded, ConfigError> {
    let mut sink = Sink::default();
    let (dir, root) = at.unzip();
    let mut lexer = Lexer {
        files: Vec::new(),
        tokens: Vec::new(),
        include_stack: root.into_iter().collect(),
        resolve_includes: dir.is_some(),
        defs: Vec::new(),
        defining: None,
        config_id: options.config_id.clone(),
    };
    lexer.lex_file(file_name, text, dir.as_deref(), &mut sink, 0);
    let nodes = TreeBuilder {
        tokens: &lexer.tokens,
        pos: 0,
    }
    .build(&lexer.files, &mut sink);
    let mut interp = Interp {
        files: &lexer.files,
        sink,
        config: Config::default(),
        seq: 0,
        raw_instances: Vec::new(),
        raw_group_scripts: Vec::new(),
        script_seq: HashMap::new(),
        rule_priority: [routes::RULE_START_PRIORITY; 2],
    };
    interp.top(&nodes);
    let Interp {
        mut sink,
        mut config,
        ..
    } = interp.finish();
    validate::validate(&mut config, &mut sink);
    sink.finish(config)
}

// ---------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Word,
    Open,
    Close,
    Newline,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    text: String,
    file: u32,
    line: u32,
    col: u32,
}

struct Lexer {
    files: Vec<String>,
    tokens: Vec<Token>,
    include_stack: Vec<PathBuf>,
    resolve_includes: bool,
    /// `$NAME=value` definitions, in definition order (keepalived's `defs` list).
    defs: Vec<Def>,
    /// The index in `defs` of a multi-line definition still being read.
    defining: Option<usize>,
    /// Lines `@ID …` are kept when ID is this, `@^ID …` when it is not (keepalived's `-i`).
    config_id: Option<String>,
}

/// A `$NAME=value` definition. A multi-line one holds its lines separated by `\n`.
#[derive(Clone, Debug)]
struct Def {
    name: String,
    value: String,
    multiline: bool,
}

/// Longest line a substitution may produce (keepalived's line buffer) and most substitutions
/// on one line: beyond either a definition is taken to refer to itself.
const MAX_SUBST_LINE: usize = 4096;
const MAX_SUBSTITUTIONS: usize = 256;
/// Most lines one line may become through multi-line definitions.
const MAX_EXPANDED_LINES: usize = 10_000;

impl Lexer {
    fn lex_file(
        &mut self,
        name: &str,
        text: &str,
        dir: Option<&Path>,
        sink: &mut Sink,
        depth: usize,
    ) {
        let file = self.files.len() as u32;
        self.files.push(name.to_string());
        // `$_PWD`: the directory of the file being read (keepalived changes into it).
        let pwd = dir
            .map(|d| d.canonicalize().unwrap_or_else(|_| d.to_path_buf()))
            .map(|d| d.display().to_string());
        let mut continued = false;
        for (idx, raw) in text.lines().enumerate() {
            let line = idx as u32 + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if self.defining.is_some() {
                self.continue_definition(raw);
                self.push(Kind::Newline, String::new(), file, line, 1);
                continue;
            }
            // keepalived's line processing (`@id`, `$NAME=`, substitution); a multi-line
            // definition used on a line gives several lines, all at this line number.
            let mut queue = std::collections::VecDeque::from([raw.to_string()]);
            let mut lines_made = 0usize;
            while let Some(text) = queue.pop_front() {
                let loc = Location::new(name, line, 1);
                lines_made += 1;
                if lines_made > MAX_EXPANDED_LINES {
                    sink.error(
                        Some(loc),
                        format!(
                            "multi-line definitions expand this line to more than \
                             {MAX_EXPANDED_LINES} lines (does one refer to itself?)"
                        ),
                    );
                    break;
                }
                let Some(text) = self.preprocess(text, &loc, pwd.as_deref(), &mut queue, sink)
                else {
                    continue;
                };
                let chars: Vec<char> = text.chars().collect();
                if !continued && let Some(pattern) = include_pattern(&chars) {
                    self.include(&pattern, dir, loc, sink, depth);
                    continue;
                }
                continued = self.lex_line(&chars, file, line, name, sink);
                if !continued {
                    self.push(
                        Kind::Newline,
                        String::new(),
                        file,
                        line,
                        chars.len() as u32 + 1,
                    );
                }
            }
        }
        self.defining = None;
        self.push(Kind::Newline, String::new(), file, 0, 0);
    }

    /// keepalived's `read_line` on one line, before it is split into words: a line starting
    /// `@ID` is dropped unless ID is the config id (`@^ID`: unless it is not), the `@ID` removed;
    /// `$NAME=value` defines NAME (a value ending in `\` continues on the next lines until one
    /// that does not, or an empty line); `$NAME` and `${NAME}` are replaced by defined values,
    /// again and again, the result decommented and checked again. `None`: nothing left to lex.
    /// Lines keepalived would not change are returned as they are (their columns stay right).
    fn preprocess(
        &mut self,
        text: String,
        loc: &Location,
        pwd: Option<&str>,
        queue: &mut std::collections::VecDeque<String>,
        sink: &mut Sink,
    ) -> Option<String> {
        let trimmed = text.trim_start();
        if !trimmed.starts_with('@') && !trimmed.starts_with('~') && !text.contains('$') {
            return Some(text);
        }
        let mut buf = decomment(&text);
        let mut substituted = false;
        let mut blanked: Option<String> = None;
        let mut rounds = 0;
        loop {
            rounds += 1;
            if let Some(rest) = buf.strip_prefix('@') {
                let (negate, rest) = match rest.strip_prefix('^') {
                    Some(r) => (true, r),
                    None => (false, rest),
                };
                // Something must follow the id, or the line is dropped.
                let end = rest.find([' ', '\t'])?;
                let matches = self.config_id.as_deref() == Some(&rest[..end]);
                if matches == negate {
                    return None;
                }
                let kept = rest[end..].trim_start_matches([' ', '\t']).to_string();
                if !substituted && blanked.is_none() {
                    // `@ID` blanked out in the original line, so that the columns stay right.
                    let lead = text.len() - text.trim_start_matches([' ', '\t']).len();
                    let cut = lead + (buf.len() - kept.len());
                    blanked = Some(format!("{}{}", " ".repeat(cut), &text[cut..]));
                }
                buf = kept;
            }
            let body = buf.trim_start();
            if body.starts_with('$') && self.define(body) {
                return None;
            }
            if body.starts_with("~SEQ") || body.starts_with("~LST") {
                sink.warn(
                    Some(loc.clone()),
                    Category::Unsupported,
                    "keepalived's ~SEQ/~LST line generators are not supported by vrrpd; line \
                     skipped"
                        .to_string(),
                );
                return None;
            }
            if body.starts_with('~') || !buf.contains('$') {
                break;
            }
            if buf.contains("$_RANDOM") || buf.contains("${_RANDOM") {
                sink.warn(
                    Some(loc.clone()),
                    Category::Unsupported,
                    "keepalived's $_RANDOM is not supported by vrrpd; left as it is".to_string(),
                );
            }
            match self.substitute(&mut buf, pwd, queue) {
                Err(msg) => {
                    sink.error(Some(loc.clone()), msg);
                    return None;
                }
                Ok(false) => break,
                Ok(true) => {
                    substituted = true;
                    buf = decomment(&buf);
                    if rounds > MAX_SUBSTITUTIONS {
                        sink.error(
                            Some(loc.clone()),
                            "definitions refer to each other without end".to_string(),
                        );
                        return None;
                    }
                    if !buf.starts_with('@') && !buf.contains('$') {
                        break;
                    }
                }
            }
        }
        if buf.trim().is_empty() {
            return None;
        }
        if let Some(name) = self.undefined_reference(&buf) {
            sink.warn(
                Some(loc.clone()),
                Category::Fixup,
                format!(
                    "'${name}' is not defined (no '${name}=' line before it): kept as it is, as \
                     keepalived does"
                ),
            );
        }
        Some(match (substituted, blanked) {
            (true, _) => buf,
            (false, Some(b)) => b,
            (false, None) => text,
        })
    }

    /// The first `$NAME`/`${NAME}` outside double quotes that names no definition (inside
    /// quotes it is usually the shell's, in a script).
    fn undefined_reference<'b>(&self, buf: &'b str) -> Option<&'b str> {
        let mut quote = false;
        for (i, c) in buf.char_indices() {
            match c {
                '"' => quote = !quote,
                '$' if !quote => {
                    if let Some((name, _)) = reference(buf, i)
                        && !self.defs.iter().any(|d| d.name == name)
                        && !matches!(name, "_PWD" | "_INSTANCE" | "_HASH" | "_BANG")
                    {
                        return Some(name);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// keepalived's `check_definition`: `$NAME=value` (no blank before `=`), NAME a letter or
    /// `_` then letters, digits and `_`. Returns whether the line was a definition.
    fn define(&mut self, line: &str) -> bool {
        let Some(rest) = line.strip_prefix('$') else {
            return false;
        };
        let Some((name, value)) = rest.split_once('=') else {
            return false;
        };
        let mut cs = name.chars();
        if !cs
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            || !cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return false;
        }
        let value = value.trim_start_matches([' ', '\t']);
        let (value, multiline) = match value.strip_suffix('\\') {
            Some(v) => {
                let v = v.trim_end_matches([' ', '\t']);
                (
                    if v.is_empty() {
                        String::new()
                    } else {
                        format!("{v}\n")
                    },
                    true,
                )
            }
            None => (value.to_string(), false),
        };
        let def = Def {
            name: name.to_string(),
            value,
            multiline,
        };
        let i = match self.defs.iter().position(|d| d.name == name) {
            Some(i) => {
                self.defs[i] = def;
                i
            }
            None => {
                self.defs.push(def);
                self.defs.len() - 1
            }
        };
        self.defining = multiline.then_some(i);
        true
    }

    /// A line of a multi-line definition: appended; one without a trailing `\` (or an empty
    /// line) ends it. Comment-only lines are skipped, as keepalived does.
    fn continue_definition(&mut self, raw: &str) {
        let Some(i) = self.defining else { return };
        if raw.is_empty() {
            self.defining = None;
            let d = &mut self.defs[i];
            d.multiline = !d.value.is_empty();
            return;
        }
        let line = decomment(raw);
        if line.is_empty() {
            return;
        }
        let d = &mut self.defs[i];
        match line.strip_suffix('\\') {
            Some(l) => {
                let l = l.trim_end_matches([' ', '\t']);
                if !l.is_empty() {
                    d.value.push_str(l);
                    d.value.push('\n');
                }
            }
            None => {
                d.value.push_str(&line);
                self.defining = None;
                d.multiline = !d.value.is_empty();
            }
        }
    }

    /// keepalived's `replace_param` on `buf`. `Ok(false)`: nothing was replaced. The further
    /// lines of a multi-line definition go to the front of `queue`.
    fn substitute(
        &self,
        buf: &mut String,
        pwd: Option<&str>,
        queue: &mut std::collections::VecDeque<String>,
    ) -> Result<bool, String> {
        let mut pos = 0;
        let mut replaced = 0usize;
        let mut pending: Vec<String> = Vec::new();
        while let Some(off) = buf[pos..].find('$') {
            let at = pos + off;
            let Some((name, end)) = reference(buf, at) else {
                pos = at + 1;
                continue;
            };
            let whole_rest = end == buf.len();
            // A user definition replaces a standard one of the same name; a multi-line one
            // only stands at the end of a line.
            let value = match self.defs.iter().find(|d| d.name == name) {
                Some(d) if whole_rest || !d.multiline => Some((d.value.clone(), d.multiline)),
                Some(_) => None,
                None => match name {
                    "_PWD" => pwd.map(|p| (p.to_string(), false)),
                    "_INSTANCE" => self.config_id.clone().map(|c| (c, false)),
                    "_HASH" => Some(("#".to_string(), false)),
                    "_BANG" => Some(("!".to_string(), false)),
                    _ => None,
                },
            };
            let Some(value) = value else {
                pos = at + 1;
                continue;
            };
            let (text, multiline) = value;
            let first = if multiline {
                let mut lines = text.split('\n');
                let first = lines.next().unwrap_or("").to_string();
                let rest: Vec<String> = lines.map(str::to_string).collect();
                // An inner expansion's lines come before what is left of an outer one.
                pending.splice(0..0, rest);
                first
            } else {
                text.clone()
            };
            buf.replace_range(at..end, &first);
            replaced += 1;
            if buf.len() > MAX_SUBST_LINE || replaced > MAX_SUBSTITUTIONS {
                return Err(format!(
                    "substituting definitions makes this line longer than {MAX_SUBST_LINE} \
                     bytes or needs more than {MAX_SUBSTITUTIONS} steps (does a definition \
                     refer to itself?)"
                ));
            }
            pos = at;
            if first.trim_start_matches([' ', '\t']).starts_with('~') {
                break;
            }
        }
        for l in pending.into_iter().rev() {
            queue.push_front(l);
        }
        Ok(replaced > 0)
    }

    fn push(&mut self, kind: Kind, text: String, file: u32, line: u32, col: u32) {
        self.tokens.push(Token {
            kind,
            text,
            file,
            line,
            col,
        });
    }

    /// Tokens of one physical line; returns whether it ends with a continuation `\`.
    fn lex_line(
        &mut self,
        chars: &[char],
        file: u32,
        line: u32,
        name: &str,
        sink: &mut Sink,
    ) -> bool {
        let mut cur: Option<(String, u32)> = None;
        let mut i = 0;
        let mut escaped_comment_warned = false;
        macro_rules! flush {
            () => {
                if let Some((t, c)) = cur.take() {
                    self.push(Kind::Word, t, file, line, c);
                }
            };
        }
        while i < chars.len() {
            let c = chars[i];
            let col = i as u32 + 1;
            match c {
                c if c.is_whitespace() => {
                    flush!();
                    i += 1;
                }
                '#' | '!' => break,
                '\\' => {
                    let Some(&next) = chars.get(i + 1) else {
                        flush!();
                        return true;
                    };
                    let word = &mut cur.get_or_insert_with(|| (String::new(), col)).0;
                    if next == '#' || next == '!' {
                        word.push(next);
                        if !escaped_comment_warned {
                            escaped_comment_warned = true;
                            sink.warn(
                                Some(Location::new(name, line, col)),
                                Category::Fixup,
                                format!(
                                    "'\\{next}' is a literal '{next}' here, but keepalived 2.2.7 \
                                     was seen to cut the value at the '{next}'; peers running it \
                                     may not agree (quote the value instead)"
                                ),
                            );
                        }
                    } else {
                        word.push('\\');
                        word.push(next);
                    }
                    i += 2;
                }
                '{' | '}' => {
                    flush!();
                    let kind = if c == '{' { Kind::Open } else { Kind::Close };
                    self.push(kind, c.to_string(), file, line, col);
                    i += 1;
                }
                '"' => {
                    flush!();
                    let mut text = String::new();
                    let mut j = i + 1;
                    let mut closed = false;
                    while j < chars.len() {
                        match chars[j] {
                            '"' => {
                                closed = true;
                                break;
                            }
                            '\\' if j + 1 < chars.len() => {
                                text.push(match chars[j + 1] {
                                    'n' => '\n',
                                    't' => '\t',
                                    'r' => '\r',
                                    other => other,
                                });
                                j += 2;
                            }
                            other => {
                                text.push(other);
                                j += 1;
                            }
                        }
                    }
                    if !closed {
                        sink.error(
                            Some(Location::new(name, line, col)),
                            "missing closing '\"' for the quote opened here".to_string(),
                        );
                        return false;
                    }
                    self.push(Kind::Word, text, file, line, col);
                    i = j + 1;
                }
                c => {
                    cur.get_or_insert_with(|| (String::new(), col)).0.push(c);
                    i += 1;
                }
            }
        }
        flush!();
        false
    }

    fn include(
        &mut self,
        pattern: &str,
        dir: Option<&Path>,
        loc: Location,
        sink: &mut Sink,
        depth: usize,
    ) {
        let Some(dir) = dir.filter(|_| self.resolve_includes) else {
            sink.warn(
                Some(loc),
                Category::Unsupported,
                format!("include '{pattern}' ignored: text parsed from memory has no directory"),
            );
            return;
        };
        if depth >= MAX_INCLUDE_DEPTH {
            sink.error(
                Some(loc),
                format!("include '{pattern}': includes nested more than {MAX_INCLUDE_DEPTH} deep"),
            );
            return;
        }
        let mut files: Vec<PathBuf> = Vec::new();
        for alt in expand_braces(pattern) {
            let full = if Path::new(&alt).is_absolute() {
                alt
            } else {
                format!(
                    "{}/{}",
                    glob::Pattern::escape(&dir.display().to_string()),
                    alt
                )
            };
            match glob::glob(&full) {
                Ok(paths) => {
                    let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                    found.sort();
                    for p in found {
                        if p.is_file() && !files.contains(&p) {
                            files.push(p);
                        }
                    }
                }
                Err(e) => {
                    sink.error(
                        Some(loc.clone()),
                        format!("include '{pattern}': bad pattern: {e}"),
                    );
                    return;
                }
            }
            if files.len() > MAX_INCLUDE_FILES {
                sink.error(
                    Some(loc),
                    format!("include '{pattern}' matches more than {MAX_INCLUDE_FILES} files"),
                );
                return;
            }
        }
        if files.is_empty() {
            sink.warn(
                Some(loc),
                Category::Fixup,
                format!("include '{pattern}' matched no file"),
            );
            return;
        }
        for path in files {
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            if self.include_stack.contains(&canonical) {
                sink.error(
                    Some(loc.clone()),
                    format!("include '{}' includes itself", path.display()),
                );
                continue;
            }
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    sink.error(
                        Some(loc.clone()),
                        format!("include '{}': cannot read it: {e}", path.display()),
                    );
                    continue;
                }
            };
            let sub_dir = Some(file_dir(&path));
            self.include_stack.push(canonical);
            self.lex_file(
                &path.display().to_string(),
                &text,
                sub_dir.as_deref(),
                sink,
                depth + 1,
            );
            self.include_stack.pop();
        }
    }
}

/// keepalived's `decomment`: leading blanks, a comment (`#` or `!` outside quotes, not
/// escaped) and trailing blanks removed; `\#`/`\!` escapes are kept for the lexer.
fn decomment(line: &str) -> String {
    let mut quote = false;
    let mut cut = line.len();
    let mut it = line.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        match c {
            '"' => quote = !quote,
            '\\' => {
                it.next();
            }
            '#' | '!' if !quote => {
                cut = i;
                break;
            }
            _ => {}
        }
    }
    line[..cut].trim_matches([' ', '\t']).to_string()
}

/// A `$NAME` or `${NAME}` reference at byte `at` of `buf` (keepalived's `find_definition`):
/// NAME starts with a letter or `_`; unbraced, it must be followed by a blank, `,`, `)` or the
/// end of the line. The name and the end of the reference.
fn reference(buf: &str, at: usize) -> Option<(&str, usize)> {
    let b = buf.as_bytes();
    let braced = b.get(at + 1) == Some(&b'{');
    let start = at + 1 + usize::from(braced);
    if !b
        .get(start)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        return None;
    }
    let mut end = start + 1;
    while b
        .get(end)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        end += 1;
    }
    let name = &buf[start..end];
    if braced {
        (b.get(end) == Some(&b'}')).then_some((name, end + 1))
    } else {
        matches!(b.get(end), None | Some(b' ' | b'\t' | b',' | b')')).then_some((name, end))
    }
}

/// `include PATTERN` (and keepalived's `includer/m/w/b/a` variants): the pattern, comments and
/// surrounding quotes removed.
fn include_pattern(chars: &[char]) -> Option<String> {
    let s: String = chars.iter().collect();
    let s = s.trim_start();
    let rest = [
        "include", "includer", "includem", "includew", "includeb", "includea",
    ]
    .iter()
    .find_map(|kw| {
        s.strip_prefix(kw)
            .filter(|r| r.starts_with(char::is_whitespace))
    })?;
    let mut out = String::new();
    let mut quote = false;
    let mut it = rest.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '"' => quote = !quote,
            '\\' if matches!(it.peek(), Some('#' | '!')) => out.extend(it.next()),
            '#' | '!' if !quote => break,
            c => out.push(c),
        }
    }
    let p = out.trim().to_string();
    (!p.is_empty()).then_some(p)
}

/// `{a,b}` brace expansion (as `glob(3)` with `GLOB_BRACE`), bounded.
fn expand_braces(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    expand_into(pattern, &mut out);
    out
}

fn expand_into(pattern: &str, out: &mut Vec<String>) {
    if out.len() > MAX_INCLUDE_FILES {
        return;
    }
    let bytes: Vec<char> = pattern.chars().collect();
    // Find the first '{' with a matching '}' and a top-level ','.
    for start in 0..bytes.len() {
        if bytes[start] != '{' {
            continue;
        }
        let mut depth = 0;
        let mut commas = Vec::new();
        let mut end = None;
        for (j, &c) in bytes.iter().enumerate().skip(start) {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
                ',' if depth == 1 => commas.push(j),
                _ => {}
            }
        }
        let Some(end) = end else { break };
        if commas.is_empty() {
            continue;
        }
        let prefix: String = bytes[..start].iter().collect();
        let suffix: String = bytes[end + 1..].iter().collect();
        let mut bounds = vec![start];
        bounds.extend(&commas);
        bounds.push(end);
        for w in bounds.windows(2) {
            let alt: String = bytes[w[0] + 1..w[1]].iter().collect();
            expand_into(&format!("{prefix}{alt}{suffix}"), out);
        }
        return;
    }
    out.push(pattern.to_string());
}

// ---------------------------------------------------------------------------------------------
// Tree
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Node {
    words: Vec<Token>,
    block: Option<Vec<Node>>,
}

struct TreeBuilder<'a> {
    tokens: &'a [Token],
    pos: usize,
}

impl TreeBuilder<'_> {
    fn build(mut self, files: &[String], sink: &mut Sink) -> Vec<Node> {
        self.seq(None, files, sink, 0)
    }

    fn loc(files: &[String], t: &Token) -> Location {
        Location::new(
            files.get(t.file as usize).map_or("?", String::as_str),
            t.line,
            t.col,
        )
    }

    fn skip_newlines(&mut self) {
        while self
            .tokens
            .get(self.pos)
            .is_some_and(|t| t.kind == Kind::Newline)
        {
            self.pos += 1;
        }
    }

    /// Nodes until the matching `}` (when `open` is the opening brace) or the end.
    fn seq(
        &mut self,
        open: Option<&Token>,
        files: &[String],
        sink: &mut Sink,
        depth: usize,
    ) -> Vec<Node> {
        let mut nodes = Vec::new();
        loop {
            self.skip_newlines();
            let Some(t) = self.tokens.get(self.pos) else {
                if let Some(o) = open {
                    sink.error(
                        Some(Self::loc(files, o)),
                        "this '{' is never closed: expected '}' before the end of the file"
                            .to_string(),
                    );
                }
                return nodes;
            };
            match t.kind {
                Kind::Newline => unreachable!("skipped above"),
                Kind::Close => {
                    self.pos += 1;
                    if open.is_some() {
                        return nodes;
                    }
                    sink.error(Some(Self::loc(files, t)), "Extra '}' found".to_string());
                }
                Kind::Open => {
                    sink.error(
                        Some(Self::loc(files, t)),
                        "unexpected '{': expected a keyword before it".to_string(),
                    );
                    self.pos += 1;
                    self.skip_block(open.is_none());
                }
                Kind::Word => {
                    let mut words = Vec::new();
                    while let Some(w) = self.tokens.get(self.pos).filter(|w| w.kind == Kind::Word) {
                        words.push(w.clone());
                        self.pos += 1;
                    }
                    // `{` on this line or alone on a following line opens the keyword's block.
                    let save = self.pos;
                    self.skip_newlines();
                    let block = match self.tokens.get(self.pos) {
                        Some(o) if o.kind == Kind::Open => {
                            self.pos += 1;
                            if depth >= MAX_BLOCK_DEPTH {
                                sink.error(
                                    Some(Self::loc(files, o)),
                                    format!("blocks nested more than {MAX_BLOCK_DEPTH} deep"),
                                );
                                self.skip_block(false);
                                Some(Vec::new())
                            } else {
                                Some(self.seq(Some(o), files, sink, depth + 1))
                            }
                        }
                        _ => {
                            self.pos = save;
                            None
                        }
                    };
                    nodes.push(Node { words, block });
                }
            }
        }
    }

    /// Skip to the `}` balancing an already consumed `{` (or to the end).
    fn skip_block(&mut self, _top: bool) {
        let mut depth = 1usize;
        while let Some(t) = self.tokens.get(self.pos) {
            self.pos += 1;
            match t.kind {
                Kind::Open => depth += 1,
                Kind::Close => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Interpretation
// ---------------------------------------------------------------------------------------------

/// keepalived keywords we know but do not implement, by context, with what they belong to.
const UNSUPPORTED_TOP: &[(&str, &str)] = &[
    ("virtual_server", "LVS, keepalived's checker"),
    ("virtual_server_group", "LVS, keepalived's checker"),
    ("real_server", "LVS, keepalived's checker"),
    ("track_group", "track groups"),
    ("garp_group", "GARP groups"),
    ("linkbeat_interfaces", "linkbeat"),
    ("bfd_instance", "BFD"),
    ("net_namespace", "network namespaces"),
    ("interface_up_down_delays", "interface debounce"),
];

const SNMP_GLOBAL: &[&str] = &[
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_traps",
    "snmp_socket",
    "enable_dbus",
    "enable_dbus_instance",
];

#[derive(Default)]
struct RawVip {
    vip: Option<Vip>,
    dev_given: bool,
    loc: Option<Location>,
}

struct RawInstance {
    name: String,
    loc: Location,
    state: Option<InitialState>,
    interface: Option<String>,
    vrid: Option<Vrid>,
    /// A `virtual_router_id` line was seen (possibly invalid, already reported).
    vrid_given: bool,
    priority: Option<Priority>,
    advert_us: Option<u64>,
    advert_loc: Option<Location>,
    version: Option<Version>,
    nopreempt: bool,
    preempt_delay_us: u64,
    auth_type: Option<&'static str>,
    auth_pass: Option<Vec<u8>>,
    vips: Vec<RawVip>,
    evips: Vec<RawVip>,
    unicast_src: Option<IpAddr>,
    unicast_peers: Vec<IpAddr>,
    mcast_src: Option<IpAddr>,
    track_interfaces: Vec<TrackInterface>,
    /// Track scripts with the sequence number and location of their line.
    track_scripts: Vec<(TrackScript, u64, Location)>,
    track_files: Vec<TrackedFile>,
    track_processes: Vec<TrackedProcess>,
    dont_track_primary: bool,
    skip_check_adv_addr: bool,
    notify: super::model::Notify,
    garp_delay: Option<u32>,
    garp_repeat: Option<u32>,
    garp_refresh: Option<u32>,
    garp_refresh_repeat: Option<u32>,
    garp_lower_prio_delay: Option<u32>,
    garp_lower_prio_repeat: Option<u32>,
    accept: Option<bool>,
    /// `native_ipv6`: the instance is IPv6 before (or without) its VIPs say so.
    native_ipv6: bool,
    use_vmac: Option<String>,
    v3_checksum: Option<V3Checksum>,
    lower_prio_no_advert: Option<bool>,
    strict: Option<bool>,
    routes: Vec<super::model::Route>,
    rules: Vec<super::model::Rule>,
}

/// What an instance's or sync group's tracking line names.
#[derive(Clone, Copy)]
enum Tracker {
    File,
    Process,
}

struct Interp<'a> {
    files: &'a [String],
    sink: Sink,
    config: Config,
    /// Order of definitions and uses in the token stream (for keepalived's order dependence).
    seq: u64,
    raw_instances: Vec<RawInstance>,
    /// Sync groups' `track_script` entries (the group's index, the entry, its place in the
    /// token stream, its line), resolved in [`Interp::finish`].
    raw_group_scripts: Vec<(usize, TrackScript, u64, Location)>,
    script_seq: HashMap<String, u64>,
    /// The next preference keepalived gives a rule without one: IPv4, IPv6.
    rule_priority: [u32; 2],
}

impl<'a> Interp<'a> {
    fn loc(&self, t: &Token) -> Location {
        Location::new(
            self.files.get(t.file as usize).map_or("?", String::as_str),
            t.line,
            t.col,
        )
    }

    /// Just after the last word of a line (where a missing argument was expected).
    fn loc_after(&self, words: &[Token]) -> Location {
        let last = &words[words.len() - 1];
        let mut l = self.loc(last);
        l.column = Some(last.col + last.text.chars().count() as u32 + 1);
        l
    }

    fn source(&self, t: &Token) -> SourceLoc {
        SourceLoc {
            file: self.files.get(t.file as usize).cloned().unwrap_or_default(),
            line: t.line,
        }
    }

    fn err(&mut self, t: &Token, msg: String) {
        let l = self.loc(t);
        self.sink.error(Some(l), msg);
    }

    fn warn(&mut self, t: &Token, cat: Category, msg: String) {
        let l = self.loc(t);
        self.sink.warn(Some(l), cat, msg);
    }

    /// Report a keyword we skip (with its block, if any).
    fn unsupported(&mut self, node: &Node, context: &str) {
        let kw = &node.words[0];
        let what = if node.block.is_some() {
            " with its block"
        } else {
            ""
        };
        let known = UNSUPPORTED_TOP
            .iter()
            .find(|(k, _)| *k == kw.text)
            .map(|(_, area)| *area)
            .or_else(|| {
                SNMP_GLOBAL
                    .contains(&kw.text.as_str())
                    .then_some("SNMP/DBus")
            });
        let msg = match known {
            Some(area) => format!(
                "'{}' ({area}) is not supported by vrrpd; skipped{what}",
                kw.text
            ),
            None => format!("unknown keyword '{}' in {context}; skipped{what}", kw.text),
        };
        self.warn(kw, Category::Unsupported, msg);
    }

    /// Accepted and recorded, not acted upon.
    fn no_effect(&mut self, t: &Token, why: &str) {
        self.warn(
            t,
            Category::NoEffect,
            format!("'{}' accepted, no effect: {why}", t.text),
        );
    }

    /// The block of a block keyword, or an error.
    fn block<'n>(&mut self, node: &'n Node) -> Option<&'n [Node]> {
        match &node.block {
            Some(b) => Some(b),
            None => {
                let l = self.loc_after(&node.words);
                self.sink.error(
                    Some(l),
                    format!("expected '{{' after '{}'", node.words[0].text),
                );
                None
            }
        }
    }

    /// After a block's keyword `match`, whose arms are the list of its keywords: an unknown
    /// keyword is skipped with a warning ([`Self::unsupported`]), a known one must not have a
    /// block ([`Self::no_block`]; the configuration is then refused).
    fn known_or_not(&mut self, node: &Node, context: &str, known: bool) {
        if !known {
            self.unsupported(node, context);
        } else {
            self.no_block(node);
        }
    }

    /// Error if a plain keyword has a block; returns whether it is fine.
    fn no_block(&mut self, node: &Node) -> bool {
        if node.block.is_some() {
            let kw = node.words[0].clone();
            self.err(
                &kw,
                format!("'{}' does not take a '{{ … }}' block", kw.text),
            );
            false
        } else {
            true
        }
    }

    /// Argument `i` of a keyword line, or an error naming what was expected.
    fn arg<'n>(&mut self, node: &'n Node, i: usize, expected: &str) -> Option<&'n Token> {
        if let Some(t) = node.words.get(i) {
            return Some(t);
        }
        let l = self.loc_after(&node.words);
        self.sink.error(
            Some(l),
            format!(
                "expected {expected} after '{}', found the end of the line",
                node.words[0].text
            ),
        );
        None
    }

    /// Warn about words after the last argument a keyword takes.
    fn extra(&mut self, node: &Node, max_args: usize) {
        if let Some(t) = node.words.get(max_args + 1) {
            let t = t.clone();
            self.warn(
                &t,
                Category::Unsupported,
                format!("ignoring '{}' after '{}'", t.text, node.words[0].text),
            );
        }
    }

    fn number(&mut self, node: &Node, i: usize, min: i64, max: i64) -> Option<i64> {
        let expected = format!("a number {min}..{max}");
        let t = self.arg(node, i, &expected)?.clone();
        match t.text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let kw = node.words[0].text.clone();
                self.err(
                    &t,
                    format!("expected {expected} after '{kw}', found '{}'", t.text),
                );
                None
            }
        }
    }

    /// A decimal number of seconds, in microseconds (keepalived's `read_decimal_unsigned`).
    fn seconds_us(&mut self, node: &Node, i: usize) -> Option<u64> {
        let t = self.arg(node, i, "a number of seconds")?.clone();
        match parse_decimal_us(&t.text) {
            Some(us) => Some(us),
            None => {
                let kw = node.words[0].text.clone();
                self.err(
                    &t,
                    format!(
                        "expected a number of seconds (like 1 or 0.5) after '{kw}', found '{}'",
                        t.text
                    ),
                );
                None
            }
        }
    }

    fn ip(&mut self, node: &Node, i: usize) -> Option<IpAddr> {
        let t = self.arg(node, i, "an IP address")?.clone();
        match t.text.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                let kw = node.words[0].text.clone();
                self.err(
                    &t,
                    format!("expected an IP address after '{kw}', found '{}'", t.text),
                );
                None
            }
        }
    }

    /// Optional `true|false|on|off|yes|no` after a flag keyword (absent: true).
    fn flag(&mut self, node: &Node) -> Option<bool> {
        match node.words.get(1) {
            None => Some(true),
            Some(t) => match t.text.as_str() {
                "true" | "on" | "yes" => Some(true),
                "false" | "off" | "no" => Some(false),
                _ => {
                    let t = t.clone();
                    let kw = node.words[0].text.clone();
                    self.err(
                        &t,
                        format!("expected true or false after '{kw}', found '{}'", t.text),
                    );
                    None
                }
            },
        }
    }

    /// keepalived's `check_true_false` after a keyword: absent is true; a word other than
    /// `true|on|yes|false|off|no` is keepalived's warning `msg(word)` and leaves the setting
    /// as it was (keepalived reports it and goes on).
    fn true_false(&mut self, node: &Node, msg: impl FnOnce(&str) -> String) -> Option<bool> {
        match node.words.get(1) {
            None => Some(true),
            Some(t) => match t.text.as_str() {
                "true" | "on" | "yes" => Some(true),
                "false" | "off" | "no" => Some(false),
                v => {
                    let (t, m) = (t.clone(), msg(v));
                    self.warn(&t, Category::Fixup, m);
                    None
                }
            },
        }
    }

    // --- top level ---------------------------------------------------------------------------

    fn top(&mut self, nodes: &[Node]) {
        for node in nodes {
            self.seq += 1;
            let kw = node.words[0].clone();
            match kw.text.as_str() {
                "global_defs" => {
                    if let Some(b) = self.block(node) {
                        self.global_defs(b);
                    }
                }
                "vrrp_instance" => {
                    let Some(name) = self.arg(node, 1, "an instance name").cloned() else {
                        continue;
                    };
                    if let Some(b) = self.block(node) {
                        self.instance(&name, b);
                    }
                }
                "vrrp_script" => {
                    let Some(name) = self.arg(node, 1, "a script name").cloned() else {
                        continue;
                    };
                    if let Some(b) = self.block(node) {
                        self.script(&name, b);
                    }
                }
                "track_file" | "vrrp_track_file" => {
                    let Some(name) = self.arg(node, 1, "a track file name").cloned() else {
                        continue;
                    };
                    if kw.text == "vrrp_track_file" {
                        self.warn(
                            &kw,
                            Category::Fixup,
                            "\"vrrp_track_file\" is deprecated, please use \"track_file\"".into(),
                        );
                    }
                    if let Some(b) = self.block(node) {
                        self.track_file(&name, b);
                    }
                }
                "vrrp_track_process" => {
                    let Some(name) = self.arg(node, 1, "a track process name").cloned() else {
                        continue;
                    };
                    if let Some(b) = self.block(node) {
                        self.track_process(&name, b);
                    }
                }
                "static_ipaddress" => {
                    if let Some(b) = self.block(node) {
                        self.static_addresses(b);
                    }
                }
                "static_routes" => {
                    if let Some(b) = self.block(node) {
                        let routes = self.route_block(&kw, b);
                        self.config.static_routes.extend(routes);
                    }
                }
                "static_rules" => {
                    if let Some(b) = self.block(node) {
                        let rules = self.rule_block(&kw, b);
                        self.config.static_rules.extend(rules);
                    }
                }
                "vrrp_sync_group" => {
                    let Some(name) = self.arg(node, 1, "a sync group name").cloned() else {
                        continue;
                    };
                    if let Some(b) = self.block(node) {
                        self.sync_group(&name, b);
                    }
                }
                _ => self.unsupported(node, "the top level"),
            }
        }
    }

    fn global_defs(&mut self, nodes: &[Node]) {
        for node in nodes {
            let kw = node.words[0].clone();
            let k = kw.text.as_str();
            if k == "notification_email" {
                if let Some(b) = self.block(node) {
                    for n in b {
                        for w in &n.words {
                            self.config.global.notification_email.push(w.text.clone());
                        }
                    }
                    self.no_effect(&kw, validate::no_effect_why("notification_email"));
                }
                continue;
            }
            let g = &mut Global::default();
            std::mem::swap(g, &mut self.config.global);
            // The arms are the list of keywords: one without an arm is unknown.
            let mut known = true;
            match k {
                "router_id" => {
                    if let Some(t) = self.arg(node, 1, "a router id") {
                        g.router_id = Some(t.text.clone());
                    }
                    self.extra(node, 1);
                }
                "vrrp_version" => {
                    if let Some(n) = self.number(node, 1, 2, 3) {
                        g.vrrp_version = if n == 2 { Version::V2 } else { Version::V3 };
                    }
                }
                "vrrp_garp_master_delay" => {
                    if let Some(n) = self.number(node, 1, 0, 86400) {
                        g.garp.master_delay_s = n as u32;
                    }
                }
                "vrrp_garp_master_repeat" => {
                    if let Some(n) = self.number(node, 1, 1, 1_000_000) {
                        g.garp.master_repeat = n as u32;
                    }
                }
                "vrrp_garp_master_refresh" => {
                    if let Some(n) = self.number(node, 1, 0, 86400) {
                        g.garp.master_refresh_s = n as u32;
                    }
                }
                "vrrp_garp_master_refresh_repeat" => {
                    // keepalived raises 0 to 1.
                    if let Some(n) = self.number(node, 1, 0, i64::from(i32::MAX)) {
                        g.garp.master_refresh_repeat = (n as u32).max(1);
                    }
                }
                "vrrp_garp_lower_prio_delay" => {
                    if let Some(n) = self.number(node, 1, 0, 86400) {
                        g.garp_lower_prio_delay_s = Some(n as u32);
                    }
                }
                "vrrp_garp_lower_prio_repeat" => {
                    if let Some(n) = self.number(node, 1, 0, i64::from(i32::MAX)) {
                        g.garp_lower_prio_repeat = Some(n as u32);
                    }
                }
                "vrrp_garp_interval" => {
                    if let Some(us) = self.seconds_us(node, 1) {
                        g.garp_interval_us = us;
                    }
                }
                "vrrp_gna_interval" => {
                    if let Some(us) = self.seconds_us(node, 1) {
                        g.gna_interval_us = us;
                    }
                }
                "vrrp_startup_delay" => {
                    if let Some(us) = self.seconds_us(node, 1) {
                        g.startup_delay_ms = us / 1000;
                    }
                }
                "vrrp_strict" => g.vrrp_strict = true,
                "vrrpd_exclusive" => g.vrrpd_exclusive = true,
                "vrrp_skip_check_adv_addr" => g.skip_check_adv_addr = true,
                "vrrp_mcast_group4" => {
                    if let Some(a) = self.ip(node, 1) {
                        match a {
                            IpAddr::V4(a) if a.is_multicast() => g.mcast_group4 = a,
                            _ => self.err(
                                &node.words[1],
                                format!(
                                    "expected an IPv4 multicast address after \
                                     'vrrp_mcast_group4', found '{a}'"
                                ),
                            ),
                        }
                    }
                }
                "vrrp_mcast_group6" => {
                    if let Some(a) = self.ip(node, 1) {
                        match a {
                            IpAddr::V6(a) if a.is_multicast() => {
                                // ff02::/16: link-local scope.
                                if a.segments()[0] & 0xff0f != 0xff02 {
                                    let t = node.words[1].clone();
                                    self.warn(
                                        &t,
                                        Category::Fixup,
                                        format!(
                                            "vrrp_mcast_group6 [{}] should be link-local \
                                             multicast.",
                                            t.text
                                        ),
                                    );
                                }
                                g.mcast_group6 = a;
                            }
                            _ => self.err(
                                &node.words[1],
                                format!(
                                    "expected an IPv6 multicast address after \
                                     'vrrp_mcast_group6', found '{a}'"
                                ),
                            ),
                        }
                    }
                }
                "enable_script_security" => {
                    g.enable_script_security = true;
                }
                "script_user" => {
                    if let Some(u) = self.arg(node, 1, "a user name") {
                        g.script_user = Some(u.text.clone());
                    }
                    g.script_group = node.words.get(2).map(|t| t.text.clone());
                    self.extra(node, 2);
                }
                "notification_email_from" => {
                    g.notification_email_from = node.words.get(1).map(|t| t.text.clone());
                    self.no_effect(&kw, validate::no_effect_why("notification_email_from"));
                }
                "smtp_server" => {
                    g.smtp_server = node.words.get(1).map(|t| t.text.clone());
                    self.no_effect(&kw, validate::no_effect_why("smtp_server"));
                }
                "smtp_connect_timeout" => {
                    self.number(node, 1, 0, 1_000_000);
                    self.no_effect(&kw, validate::no_effect_why("smtp_connect_timeout"));
                }
                "max_auto_priority" | "vrrp_rt_priority" | "vrrp_priority" => {
                    if node.words.len() > 1 {
                        self.number(node, 1, -20, 99);
                    }
                    self.no_effect(&kw, validate::no_effect_why("max_auto_priority"));
                }
                "vrrp_no_swap" => {
                    self.no_effect(&kw, validate::no_effect_why("vrrp_no_swap"));
                }
                // keepalived 2.2.7 (Debian's, built with nftables only) warns about
                // vrrp_iptables and uses nftables; vrrpd's XDP program does their work.
                "vrrp_iptables" => {
                    self.warn(
                        &kw,
                        Category::Fixup,
                        "iptables not supported, using nftables instead. Please replace \
                         'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option"
                            .to_string(),
                    );
                    self.no_effect(&kw, validate::no_effect_why("nftables"));
                }
                "nftables" | "nftables_priority" | "nftables_ifindex" | "nftables_counters" => {
                    self.no_effect(&kw, validate::no_effect_why("nftables"));
                }
                "vrrp_check_unicast_src" => {
                    self.no_effect(&kw, validate::no_effect_why("check_unicast_src"));
                }
                "dynamic_interfaces" => {
                    if let Some(opt) = node.words.get(1)
                        && opt.text != "allow_if_changes"
                    {
                        let opt = opt.clone();
                        let msg = format!("Unknown dynamic_interfaces option '{}'", opt.text);
                        self.warn(&opt, Category::Fixup, msg);
                    }
                    self.no_effect(&kw, validate::no_effect_why("dynamic_interfaces"));
                }
                "v3_checksum_as_v2" => {
                    if let Some(b) = self.flag(node) {
                        g.v3_checksum = if b {
                            V3Checksum::MessageOnly
                        } else {
                            V3Checksum::PseudoHeader
                        };
                    }
                }
                "vrrp_notify_priority_changes" => {
                    if let Some(b) = self.true_false(node, |v| {
                        format!(
                            "Invalid value '{v}' for global vrrp_notify_priority_changes specified"
                        )
                    }) {
                        g.vrrp_notify_priority_changes = b;
                    }
                }
                "vrrp_lower_prio_no_advert" => {
                    if let Some(b) = self.flag(node) {
                        g.lower_prio_no_advert = b;
                    }
                }
                "notify_fifo"
                | "vrrp_notify_fifo"
                | "notify_fifo_script"
                | "vrrp_notify_fifo_script" => self.notify_fifo(node, g),
                _ => known = false,
            }
            std::mem::swap(g, &mut self.config.global);
            self.known_or_not(node, "global_defs", known);
        }
        self.notify_fifos_checked();
    }

    /// `[vrrp_]notify_fifo PATH [USER [GROUP]]` and `[vrrp_]notify_fifo_script CMD [USER
    /// [GROUP]]`: keepalived keeps the first of each, with its warning.
    fn notify_fifo(&mut self, node: &Node, g: &mut Global) {
        let kw = &node.words[0];
        let k = kw.text.as_str();
        let prefix = if k.starts_with("vrrp_") { "vrrp_" } else { "" };
        let slot = if prefix.is_empty() {
            &mut g.notify_fifo
        } else {
            &mut g.vrrp_notify_fifo
        };
        let fifo = slot.get_or_insert_with(Default::default);
        let Some(first) = node.words.get(1) else {
            let what = if k.ends_with("_script") {
                "notify_fifo_script"
            } else {
                "notify_fifo name"
            };
            self.warn(kw, Category::Fixup, format!("No {prefix}{what} specified"));
            return;
        };
        if k.ends_with("_script") {
            if fifo.script.is_some() {
                self.warn(
                    kw,
                    Category::Fixup,
                    format!(
                        "{prefix}notify_fifo_script already specified - ignoring {}",
                        first.text
                    ),
                );
            } else {
                fifo.script = self.notify(node);
            }
        } else if !fifo.path.is_empty() {
            self.warn(
                kw,
                Category::Fixup,
                format!(
                    "{prefix}notify_fifo already specified - ignoring {}",
                    first.text
                ),
            );
        } else {
            fifo.path = first.text.clone();
            fifo.user = node.words.get(2).map(|t| t.text.clone());
            fifo.group = node.words.get(3).map(|t| t.text.clone());
            self.extra(node, 3);
        }
    }

    /// keepalived opens no FIFO without a name, and only the global one when both name the
    /// same file.
    fn notify_fifos_checked(&mut self) {
        let g = &mut self.config.global;
        for fifo in [&mut g.notify_fifo, &mut g.vrrp_notify_fifo] {
            if fifo.as_ref().is_some_and(|f| f.path.is_empty()) {
                *fifo = None;
            }
        }
        if let (Some(a), Some(b)) = (&g.notify_fifo, &g.vrrp_notify_fifo)
            && a.path == b.path
        {
            let line = format!(
                "notify FIFO {} has been specified for global and vrrp FIFO - ignoring vrrp FIFO",
                b.path
            );
            g.vrrp_notify_fifo = None;
            self.sink.warn(None, Category::Fixup, line);
        }
    }

    // --- vrrp_instance -------------------------------------------------------------------------

    fn instance(&mut self, name_tok: &Token, nodes: &[Node]) {
        let mut r = RawInstance {
            name: name_tok.text.clone(),
            loc: self.loc(name_tok),
            state: None,
            interface: None,
            vrid: None,
            vrid_given: false,
            priority: None,
            advert_us: None,
            advert_loc: None,
            version: None,
            nopreempt: false,
            preempt_delay_us: 0,
            auth_type: None,
            auth_pass: None,
            vips: Vec::new(),
            evips: Vec::new(),
            unicast_src: None,
            unicast_peers: Vec::new(),
            mcast_src: None,
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            dont_track_primary: false,
            skip_check_adv_addr: false,
            notify: Default::default(),
            garp_delay: None,
            garp_repeat: None,
            garp_refresh: None,
            garp_refresh_repeat: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            accept: None,
            native_ipv6: false,
            use_vmac: None,
            v3_checksum: None,
            lower_prio_no_advert: None,
            strict: None,
            routes: Vec::new(),
            rules: Vec::new(),
        };
        let iname = r.name.clone();
        for node in nodes {
            self.seq += 1;
            let kw = node.words[0].clone();
            let k = kw.text.as_str();
            // Block keywords first.
            match k {
                "authentication" => {
                    if let Some(b) = self.block(node) {
                        self.authentication(&mut r, b);
                    }
                    continue;
                }
                "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                    if let Some(b) = self.block(node) {
                        for n in b {
                            let v = self.vip(n);
                            if k == "virtual_ipaddress" {
                                // keepalived: an instance made IPv6 by `native_ipv6` skips an
                                // IPv4 VIP.
                                if r.native_ipv6
                                    && let Some(vip) =
                                        v.vip.as_ref().filter(|v| v.address.is_ipv4())
                                {
                                    let msg = format!(
                                        "({}): address family must match VRRP instance [{}] - \
                                         ignoring",
                                        r.name, vip.address
                                    );
                                    self.warn(&n.words[0], Category::Fixup, msg);
                                    continue;
                                }
                                r.vips.push(v);
                            } else {
                                r.evips.push(v);
                            }
                        }
                    }
                    continue;
                }
                "virtual_routes" => {
                    if let Some(b) = self.block(node) {
                        let routes = self.route_block(&kw, b);
                        r.routes.extend(routes);
                    }
                    continue;
                }
                "virtual_rules" => {
                    if let Some(b) = self.block(node) {
                        let rules = self.rule_block(&kw, b);
                        r.rules.extend(rules);
                    }
                    continue;
                }
                "unicast_peer" => {
                    if let Some(b) = self.block(node) {
                        for n in b {
                            if let Some(a) = self.ip_entry(n, "unicast_peer") {
                                r.unicast_peers.push(a);
                            }
                            if let Some(t) = n.words.get(1) {
                                let t = t.clone();
                                self.warn(
                                    &t,
                                    Category::Unsupported,
                                    format!(
                                        "unicast_peer option '{}' is not supported; ignored",
                                        t.text
                                    ),
                                );
                            }
                        }
                    }
                    continue;
                }
                "track_interface" => {
                    self.track_interface_block(node, &iname, &mut r.track_interfaces);
                    continue;
                }
                "track_file" => {
                    if let Some(b) = self.block(node) {
                        for n in b {
                            if let Some((file, weight, reverse)) =
                                self.tracked(n, &iname, Tracker::File)
                            {
                                if r.track_files.iter().any(|x| x.file == file) {
                                    self.warn(
                                        &n.words[0],
                                        Category::Fixup,
                                        format!("({iname}) duplicate track_file {file} - ignoring"),
                                    );
                                    continue;
                                }
                                r.track_files.push(TrackedFile {
                                    file,
                                    weight,
                                    reverse,
                                });
                            }
                        }
                    }
                    continue;
                }
                "track_process" => {
                    if let Some(b) = self.block(node) {
                        for n in b {
                            if let Some((process, weight, reverse)) =
                                self.tracked(n, &iname, Tracker::Process)
                            {
                                if r.track_processes.iter().any(|x| x.process == process) {
                                    self.warn(
                                        &n.words[0],
                                        Category::Fixup,
                                        format!(
                                            "({iname}) duplicate track_process {process} - ignoring"
                                        ),
                                    );
                                    continue;
                                }
                                r.track_processes.push(TrackedProcess {
                                    process,
                                    weight,
                                    reverse,
                                });
                            }
                        }
                    }
                    continue;
                }
                "track_script" => {
                    if let Some(b) = self.block(node) {
                        for n in b {
                            self.seq += 1;
                            if let Some(t) = self.track_script(n) {
                                let l = self.loc(&n.words[0]);
                                if r.track_scripts.iter().any(|(x, _, _)| x.script == t.script) {
                                    self.warn(
                                        &n.words[0],
                                        Category::Fixup,
                                        format!(
                                            "({iname}) duplicate track_script {} - ignoring",
                                            t.script
                                        ),
                                    );
                                } else {
                                    r.track_scripts.push((t, self.seq, l));
                                }
                            }
                        }
                    }
                    continue;
                }
                _ => {}
            }
            // The arms are the list of keywords: one without an arm is unknown.
            let mut known = true;
            match k {
                "state" => {
                    let Some(t) = self.arg(node, 1, "MASTER or BACKUP").cloned() else {
                        continue;
                    };
                    match t.text.as_str() {
                        "MASTER" => r.state = Some(InitialState::Master),
                        "BACKUP" => {
                            if r.state == Some(InitialState::Master) {
                                self.warn(
                                    &t,
                                    Category::Fixup,
                                    format!(
                                        "({iname}) state previously set as MASTER - ignoring BACKUP"
                                    ),
                                );
                            } else {
                                r.state = Some(InitialState::Backup);
                            }
                        }
                        other => {
                            self.warn(
                                &t,
                                Category::Fixup,
                                format!(
                                    "({iname}) unknown state '{other}', defaulting to BACKUP \
                                     (state is case-sensitive: MASTER or BACKUP)"
                                ),
                            );
                            r.state = Some(InitialState::Backup);
                        }
                    }
                    self.extra(node, 1);
                }
                "interface" => {
                    if let Some(t) = self.arg(node, 1, "an interface name") {
                        r.interface = Some(t.text.clone());
                    }
                    self.extra(node, 1);
                }
                "virtual_router_id" => {
                    r.vrid_given = true;
                    if let Some(n) = self.number(node, 1, 1, 255) {
                        r.vrid = Vrid::new(n as u8);
                    }
                    self.extra(node, 1);
                }
                "priority" => {
                    if let Some(n) = self.number(node, 1, 1, 255) {
                        r.priority = Some(Priority(n as u8));
                    }
                    self.extra(node, 1);
                }
                "advert_int" => {
                    if let Some(us) = self.seconds_us(node, 1) {
                        let t = node.words[1].clone();
                        if !(10_000..=255_000_000).contains(&us) {
                            // keepalived: read_decimal_unsigned_strvec(…, 0.01 s, 255 s) fails
                            // and the handler keeps the default.
                            self.warn(
                                &t,
                                Category::Fixup,
                                format!(
                                    "({iname}) Advert interval ({}) not valid! must be 0.01..255 \
                                     seconds - ignoring (keepalived keeps the default, 1 second)",
                                    t.text
                                ),
                            );
                        } else {
                            r.advert_us = Some(us);
                            r.advert_loc = Some(self.loc(&t));
                        }
                    }
                    self.extra(node, 1);
                }
                "version" => {
                    if let Some(n) = self.number(node, 1, 2, 3) {
                        r.version = Some(if n == 2 { Version::V2 } else { Version::V3 });
                    }
                    self.extra(node, 1);
                }
                "nopreempt" => r.nopreempt = true,
                "preempt" => r.nopreempt = false,
                "preempt_delay" => {
                    if let Some(us) = self.seconds_us(node, 1) {
                        if us > 1000 * 1_000_000 {
                            let t = node.words[1].clone();
                            self.err(
                                &t,
                                format!(
                                    "expected a number of seconds 0..1000 after 'preempt_delay', \
                                     found '{}'",
                                    t.text
                                ),
                            );
                        } else {
                            r.preempt_delay_us = us;
                        }
                    }
                }
                "unicast_src_ip" => r.unicast_src = self.ip(node, 1),
                "mcast_src_ip" => {
                    r.mcast_src = self.ip(node, 1);
                    self.no_effect(&kw, validate::no_effect_why("mcast_src_ip"));
                }
                "notify_master"
                | "notify_backup"
                | "notify_fault"
                | "notify_stop"
                | "notify"
                | "notify_split_brain"
                | "notify_master_rx_lower_pri" => {
                    // notify_split_brain is ours: keepalived 2.2.7 logs "Unknown keyword" and
                    // goes on, as with vrrpd_exclusive; `vrrpd check` says so.
                    let slot = match k {
                        "notify_master" => &mut r.notify.master,
                        "notify_backup" => &mut r.notify.backup,
                        "notify_fault" => &mut r.notify.fault,
                        "notify_stop" => &mut r.notify.stop,
                        "notify_split_brain" => &mut r.notify.split_brain,
                        "notify_master_rx_lower_pri" => &mut r.notify.master_rx_lower_pri,
                        _ => &mut r.notify.any,
                    };
                    // keepalived keeps the first and warns about the others.
                    if slot.is_some() {
                        let what = if k == "notify" { "notify" } else { k };
                        let t = node.words.get(1).unwrap_or(&kw).clone();
                        self.warn(
                            &kw,
                            Category::Fixup,
                            format!(
                                "({iname}) {what} script already specified - ignoring {}",
                                t.text
                            ),
                        );
                    } else {
                        *slot = self.notify(node).map(Box::new);
                    }
                }
                "garp_master_delay" => {
                    r.garp_delay = self.number(node, 1, 0, 86400).map(|n| n as u32)
                }
                "garp_master_repeat" => {
                    r.garp_repeat = self.number(node, 1, 1, 1_000_000).map(|n| n as u32)
                }
                "garp_master_refresh" => {
                    r.garp_refresh = self.number(node, 1, 0, 86400).map(|n| n as u32)
                }
                "garp_master_refresh_repeat" => {
                    if let Some(n) = self.number(node, 1, 0, i64::from(i32::MAX)) {
                        if n == 0 {
                            self.warn(
                                &kw,
                                Category::Fixup,
                                format!(
                                    "({}): garp_master_refresh_repeat must be greater than 0, \
                                     setting to 1",
                                    r.name
                                ),
                            );
                        }
                        r.garp_refresh_repeat = Some((n as u32).max(1));
                    }
                }
                "garp_lower_prio_delay" => {
                    r.garp_lower_prio_delay = self.number(node, 1, 0, 86400).map(|n| n as u32)
                }
                "garp_lower_prio_repeat" => {
                    r.garp_lower_prio_repeat = self
                        .number(node, 1, 0, i64::from(i32::MAX))
                        .map(|n| n as u32)
                }
                "accept" => r.accept = Some(true),
                "no_accept" => r.accept = Some(false),
                "native_ipv6" => {
                    if r.vips
                        .iter()
                        .filter_map(|v| v.vip.as_ref())
                        .any(|v| v.address.is_ipv4())
                    {
                        let msg = format!(
                            "({}) Cannot specify native_ipv6 with IPv4 addresses",
                            r.name
                        );
                        self.warn(&kw, Category::Fixup, msg);
                    } else {
                        r.native_ipv6 = true;
                        r.version = Some(Version::V3);
                    }
                }
                "check_unicast_src" => {
                    self.no_effect(&kw, validate::no_effect_why("check_unicast_src"))
                }
                "dont_track_primary" => r.dont_track_primary = true,
                // keepalived 2.2.7 sets it for any true/false word, `false` too (said).
                "skip_check_adv_addr" => {
                    let b = self.true_false(node, |v| {
                        format!("({iname}) invalid skip_check_adv_addr {v} specified")
                    });
                    if b == Some(false) {
                        self.warn(
                            &node.words[1],
                            Category::Fixup,
                            format!(
                                "({iname}) skip_check_adv_addr {}: keepalived 2.2.7 sets it all the same, and so does vrrpd (remove the line to compare every advert's addresses)",
                                node.words[1].text
                            ),
                        );
                    }
                    if b.is_some() {
                        r.skip_check_adv_addr = true;
                    }
                }
                "use_vmac" => {
                    self.no_effect(&kw, validate::no_effect_why("use_vmac"));
                    r.use_vmac = Some(
                        node.words
                            .get(1)
                            .map(|t| t.text.clone())
                            .unwrap_or_default(),
                    );
                    if let Some(t) = node
                        .words
                        .get(1)
                        .filter(|t| t.text.len() > validate::MAX_IFNAME)
                    {
                        let t = t.clone();
                        self.err(
                            &t,
                            format!("VMAC interface name '{}' is longer than 15 bytes", t.text),
                        );
                    }
                }
                "vmac_xmit_base" => self.no_effect(&kw, validate::no_effect_why("vmac_xmit_base")),
                "v3_checksum_as_v2" => {
                    r.v3_checksum = self.flag(node).map(|b| {
                        if b {
                            V3Checksum::MessageOnly
                        } else {
                            V3Checksum::PseudoHeader
                        }
                    })
                }
                "lower_prio_no_advert" => r.lower_prio_no_advert = self.flag(node),
                "strict_mode" => r.strict = self.flag(node),
                "smtp_alert" => self.no_effect(&kw, validate::no_effect_why("smtp_alert")),
                "notify_priority_changes" => {
                    if let Some(b) = self.true_false(node, |v| {
                        format!(
                            "({iname}) Invalid value '{v}' for notify_priority_changes specified"
                        )
                    }) {
                        r.notify.priority_changes = Some(b);
                    }
                }
                _ => known = false,
            }
            self.known_or_not(node, &format!("vrrp_instance {iname}"), known);
        }
        self.raw_instances.push(r);
    }

    fn authentication(&mut self, r: &mut RawInstance, nodes: &[Node]) {
        for node in nodes {
            let kw = node.words[0].clone();
            match kw.text.as_str() {
                "auth_type" => {
                    let Some(t) = self.arg(node, 1, "PASS or AH").cloned() else {
                        continue;
                    };
                    match t.text.as_str() {
                        "PASS" => r.auth_type = Some("PASS"),
                        "AH" => r.auth_type = Some("AH"),
                        other => self.err(
                            &t,
                            format!("expected PASS or AH after 'auth_type', found '{other}'"),
                        ),
                    }
                    self.extra(node, 1);
                }
                "auth_pass" => {
                    let Some(t) = self.arg(node, 1, "a password").cloned() else {
                        continue;
                    };
                    if t.text.len() > 8 {
                        self.warn(
                            &t,
                            Category::Fixup,
                            "Truncating auth_pass to 8 characters".to_string(),
                        );
                    }
                    r.auth_pass = Some(t.text.into_bytes());
                    self.extra(node, 1);
                }
                _ => self.unsupported(node, "authentication"),
            }
        }
    }

    fn ip_entry(&mut self, node: &Node, block: &str) -> Option<IpAddr> {
        let t = node.words[0].clone();
        match t.text.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.err(
                    &t,
                    format!("expected an IP address in {block}, found '{}'", t.text),
                );
                None
            }
        }
    }

    /// `ADDR[/LEN] [brd X|+|-] [dev IF] [label L] [scope S] …`
    fn vip(&mut self, node: &Node) -> RawVip {
        let w = &node.words;
        let first = w[0].clone();
        let (addr_s, len_s) = match first.text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (first.text.as_str(), None),
        };
        let Ok(address) = addr_s.parse::<IpAddr>() else {
            self.err(
                &first,
                format!(
                    "expected an IP address[/prefix] in virtual_ipaddress, found '{}'",
                    first.text
                ),
            );
            return RawVip::default();
        };
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len_s {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => {
                    self.err(
                        &first,
                        format!(
                            "expected a prefix length 0..{max} after '/' in '{}', found '{l}'",
                            first.text
                        ),
                    );
                    return RawVip::default();
                }
            },
        };
        let mut vip = Vip {
            address,
            prefix_len,
            dev: String::new(),
            label: None,
            scope: Scope::Global,
            broadcast: None,
        };
        let mut dev_given = false;
        let mut i = 1;
        while i < w.len() {
            let opt = w[i].clone();
            let val = w.get(i + 1).cloned();
            let needs_value = matches!(
                opt.text.as_str(),
                "brd"
                    | "broadcast"
                    | "dev"
                    | "label"
                    | "scope"
                    | "peer"
                    | "preferred_lft"
                    | "metric"
            );
            if needs_value && val.is_none() {
                let l = self.loc_after(w);
                self.sink.error(
                    Some(l),
                    format!("expected a value after '{}' in virtual_ipaddress", opt.text),
                );
                break;
            }
            match opt.text.as_str() {
                "dev" => {
                    vip.dev = val.map(|v| v.text).unwrap_or_default();
                    dev_given = true;
                }
                "label" => vip.label = val.map(|v| v.text),
                "scope" => {
                    let v = val.unwrap_or_else(|| opt.clone());
                    match Scope::from_name(&v.text) {
                        Some(s) => vip.scope = s,
                        None => self.err(
                            &v,
                            format!(
                                "expected global, site, link, host or nowhere after 'scope', \
                                 found '{}'",
                                v.text
                            ),
                        ),
                    }
                }
                "brd" | "broadcast" => {
                    let v = val.unwrap_or_else(|| opt.clone());
                    match (address, v.text.as_str()) {
                        (IpAddr::V4(a), "+") => {
                            let host_bits = 32 - u32::from(prefix_len);
                            let mask = if host_bits >= 32 {
                                u32::MAX
                            } else {
                                (1u32 << host_bits) - 1
                            };
                            vip.broadcast = Some(Ipv4Addr::from(u32::from(a) | mask));
                        }
                        (IpAddr::V4(_), "-") => vip.broadcast = None,
                        (IpAddr::V4(_), s) => match s.parse::<Ipv4Addr>() {
                            Ok(b) => vip.broadcast = Some(b),
                            Err(_) => self.err(
                                &v,
                                format!(
                                    "expected an IPv4 address, + or - after 'brd', found '{s}'"
                                ),
                            ),
                        },
                        (IpAddr::V6(_), _) => {
                            self.err(&opt, format!("'brd' is for IPv4 addresses, not {address}"))
                        }
                    }
                }
                "peer" | "preferred_lft" | "metric" => {
                    self.warn(
                        &opt,
                        Category::Unsupported,
                        format!(
                            "VIP option '{}' is not supported by vrrpd; ignored",
                            opt.text
                        ),
                    );
                }
                "no_track" => {
                    self.no_effect(&opt, validate::no_effect_why("no_track"));
                    i += 1;
                    continue;
                }
                "home" | "-nodad" | "nodad" | "noprefixroute" | "autojoin" | "use_vmac" => {
                    self.warn(
                        &opt,
                        Category::Unsupported,
                        format!(
                            "VIP option '{}' is not supported by vrrpd; ignored",
                            opt.text
                        ),
                    );
                    i += 1;
                    continue;
                }
                other => {
                    self.warn(
                        &opt,
                        Category::Unsupported,
                        format!("unknown virtual_ipaddress option '{other}'; ignored"),
                    );
                    i += 1;
                    continue;
                }
            }
            i += 2;
        }
        RawVip {
            vip: Some(vip),
            dev_given,
            loc: Some(self.loc(&first)),
        }
    }

    /// `[weight N [reverse|noreverse]]` after a tracked name: (weight, reverse).
    fn weight_opts(&mut self, node: &Node, what: &str) -> Option<(Option<i16>, Option<bool>)> {
        let w = &node.words;
        let Some(opt) = w.get(1).cloned() else {
            return Some((None, None));
        };
        if opt.text != "weight" {
            self.err(
                &opt,
                format!(
                    "expected 'weight' after {what} '{}', found '{}'",
                    w[0].text, opt.text
                ),
            );
            return None;
        }
        let t = self.arg(node, 2, "a weight -253..253")?.clone();
        let mut weight = match t.text.parse::<i32>() {
            Ok(n) if (-254..=254).contains(&n) => n as i16,
            _ => {
                self.err(
                    &t,
                    format!(
                        "expected a weight -253..253 after 'weight', found '{}'",
                        t.text
                    ),
                );
                return None;
            }
        };
        if weight.abs() == 254 {
            self.warn(
                &t,
                Category::Fixup,
                format!(
                    "weight for {} cannot be +/-254. Setting to +/-253",
                    w[0].text
                ),
            );
            weight = weight.signum() * 253;
        }
        let reverse = match w.get(3).map(|t| t.text.as_str()) {
            None => None,
            Some("reverse") => Some(true),
            Some("noreverse") => Some(false),
            Some(other) => {
                let t = w[3].clone();
                self.err(
                    &t,
                    format!("expected 'reverse' or 'noreverse' after the weight, found '{other}'"),
                );
                return None;
            }
        };
        self.extra(node, 3);
        Some((Some(weight), reverse))
    }

    /// A `track_interface { … }` block of `owner` (an instance or a sync group) into `into`:
    /// keepalived's alloc_track_if, which drops a second entry for an interface.
    fn track_interface_block(&mut self, node: &Node, owner: &str, into: &mut Vec<TrackInterface>) {
        let Some(b) = self.block(node) else {
            return;
        };
        for n in b {
            let Some(t) = self.track_interface(n) else {
                continue;
            };
            if into.iter().any(|x| x.interface == t.interface) {
                self.warn(
                    &n.words[0],
                    Category::Fixup,
                    format!(
                        "({owner}) duplicate track_interface {} - ignoring",
                        t.interface
                    ),
                );
            } else {
                into.push(t);
            }
        }
    }

    fn track_interface(&mut self, node: &Node) -> Option<TrackInterface> {
        let (weight, reverse) = self.weight_opts(node, "track_interface")?;
        let name = &node.words[0];
        if name.text.len() > validate::MAX_IFNAME {
            let t = name.clone();
            self.err(
                &t,
                format!("interface name '{}' is longer than 15 bytes", t.text),
            );
            return None;
        }
        Some(TrackInterface {
            interface: node.words[0].text.clone(),
            weight: weight.unwrap_or(0),
            reverse: reverse.unwrap_or(false),
        })
    }

    fn track_script(&mut self, node: &Node) -> Option<TrackScript> {
        let (weight, reverse) = self.weight_opts(node, "track_script")?;
        Some(TrackScript {
            script: node.words[0].text.clone(),
            weight,
            reverse,
        })
    }

    /// `notify_x "command args" [user [group]]`
    fn notify(&mut self, node: &Node) -> Option<NotifyCommand> {
        let cmd = self.arg(node, 1, "a command (quote it if it has arguments)")?;
        let nc = NotifyCommand {
            command: cmd.text.clone(),
            user: node.words.get(2).map(|t| t.text.clone()),
            group: node.words.get(3).map(|t| t.text.clone()),
        };
        self.extra(node, 3);
        Some(nc)
    }

    // --- vrrp_script ---------------------------------------------------------------------------

    fn script(&mut self, name: &Token, nodes: &[Node]) {
        let mut s = Script {
            source: self.source(name),
            ..Script::new(name.text.clone(), String::new())
        };
        for node in nodes {
            let kw = node.words[0].clone();
            match kw.text.as_str() {
                "script" => {
                    // keepalived runs the first word only (split again into the command's
                    // argv): arguments belong inside the quotes.
                    if let Some(t) = self.arg(node, 1, "a command (quote it if it has arguments)") {
                        s.command = t.text.clone();
                    }
                    self.extra(node, 1);
                }
                "interval" => {
                    if let Some(us) = self.seconds_us(node, 1) {
                        s.interval_ms = (us / 1000).max(1);
                    }
                }
                "timeout" => {
                    if let Some(us) = self.seconds_us(node, 1) {
                        s.timeout_ms = us / 1000;
                    }
                }
                "weight" => {
                    if let Some(n) = self.number(node, 1, -253, 253) {
                        s.weight = n as i16;
                    }
                    match node.words.get(2).map(|t| t.text.as_str()) {
                        None => {}
                        Some("reverse") => s.reverse = true,
                        Some("noreverse") => s.reverse = false,
                        Some(other) => {
                            let t = node.words[2].clone();
                            self.err(
                                &t,
                                format!(
                                    "expected 'reverse' after the weight of vrrp_script {}, \
                                     found '{other}'",
                                    s.name
                                ),
                            );
                        }
                    }
                }
                "rise" => {
                    if let Some(n) = self.number(node, 1, 1, 1_000_000) {
                        s.rise = n as u32;
                    }
                }
                "fall" => {
                    if let Some(n) = self.number(node, 1, 1, 1_000_000) {
                        s.fall = n as u32;
                    }
                }
                "user" => {
                    if let Some(u) = self.arg(node, 1, "a user name") {
                        s.user = Some(u.text.clone());
                    }
                    s.group = node.words.get(2).map(|t| t.text.clone());
                }
                "init_fail" => s.init_fail = true,
                _ => {
                    self.unsupported(node, &format!("vrrp_script {}", s.name));
                    continue;
                }
            }
            self.no_block(node);
        }
        if s.command.is_empty() {
            self.err(name, format!("vrrp_script {} has no 'script' line", s.name));
        }
        if self.config.script(&s.name).is_some() {
            self.err(name, format!("vrrp_script {} is defined twice", s.name));
            return;
        }
        self.script_seq.insert(s.name.clone(), self.seq);
        self.config.scripts.push(s);
    }

    // --- track_file, vrrp_track_process (keepalived's track_file.c, vrrp_parser.c) ----------

    /// `weight N [reverse]` inside a `track_file` or `vrrp_track_process` block: the weight,
    /// whether `reverse` was given, `None` after an error.
    fn def_weight(&mut self, node: &Node, what: &str, name: &str) -> Option<(i16, bool)> {
        let weight = self.number(node, 1, -254, 254)? as i16;
        let mut reverse = false;
        match node.words.get(2).map(|t| t.text.as_str()) {
            None => {}
            Some("reverse") => reverse = true,
            Some(other) => {
                let t = node.words[2].clone();
                self.warn(
                    &t,
                    Category::Fixup,
                    format!("{what} {name} unknown weight option {other}"),
                );
            }
        }
        self.extra(node, 2);
        Some((weight, reverse))
    }

    fn track_file(&mut self, name: &Token, nodes: &[Node]) {
        let mut f = TrackFile {
            name: name.text.clone(),
            path: String::new(),
            weight: 1,
            reverse: false,
            init: None,
            source: self.source(name),
        };
        for node in nodes {
            let kw = node.words[0].clone();
            match kw.text.as_str() {
                "file" => {
                    let Some(t) = self.arg(node, 1, "a file name").cloned() else {
                        continue;
                    };
                    if f.path.is_empty() {
                        f.path = t.text.clone();
                        self.extra(node, 1);
                    } else {
                        self.warn(
                            &t,
                            Category::Fixup,
                            format!(
                                "File already set for track file {} - ignoring {}",
                                f.name, t.text
                            ),
                        );
                    }
                }
                "weight" => {
                    // keepalived takes the first weight other than 1 (its default).
                    if f.weight != 1 {
                        let t = node.words.get(1).unwrap_or(&kw).clone();
                        self.warn(
                            &t,
                            Category::Fixup,
                            format!(
                                "Weight already set for track file {} - ignoring {}",
                                f.name, t.text
                            ),
                        );
                        continue;
                    }
                    let name = f.name.clone();
                    if let Some((w, r)) = self.def_weight(node, "track_file", &name) {
                        f.weight = w;
                        f.reverse |= r;
                    }
                }
                "init_file" => {
                    let mut init = FileInit {
                        value: 0,
                        overwrite: false,
                    };
                    for t in node.words[1..].iter().cloned() {
                        let w = t.text.trim_start();
                        if w.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                            match w.parse::<i32>() {
                                Ok(v) => {
                                    if !(-254..=254).contains(&v) {
                                        self.warn(
                                            &t,
                                            Category::Fixup,
                                            format!(
                                                "Track file {} init value {v} is outside \
                                                 sensible range [-254, 254]",
                                                f.name
                                            ),
                                        );
                                    }
                                    init.value = i64::from(v);
                                }
                                Err(_) => self.err(
                                    &t,
                                    format!(
                                        "Track file {} init value {} is invalid",
                                        f.name, t.text
                                    ),
                                ),
                            }
                        } else if w == "overwrite" {
                            init.overwrite = true;
                        } else {
                            self.warn(
                                &t,
                                Category::Fixup,
                                format!("Unknown track file init option {}", t.text),
                            );
                        }
                    }
                    f.init = Some(init);
                }
                _ => {
                    self.unsupported(node, &format!("track_file {}", f.name));
                    continue;
                }
            }
            self.no_block(node);
        }
        if f.path.is_empty() {
            self.warn(
                name,
                Category::Fixup,
                format!("No file set for track_file {} - ignoring", f.name),
            );
            return;
        }
        if self.config.track_file(&f.name).is_some() {
            self.warn(
                name,
                Category::Fixup,
                format!(
                    "track_file {} is defined again: keepalived tracks the first; ignoring this one",
                    f.name
                ),
            );
            return;
        }
        self.config.track_files.push(f);
    }

    fn track_process(&mut self, name: &Token, nodes: &[Node]) {
        let mut p = TrackProcess {
            source: self.source(name),
            ..TrackProcess::new(name.text.clone(), String::new())
        };
        for node in nodes {
            let kw = node.words[0].clone();
            match kw.text.as_str() {
                "process" => {
                    let Some(t) = self.arg(node, 1, "a process name").cloned() else {
                        continue;
                    };
                    if !p.process.is_empty() {
                        self.warn(
                            &t,
                            Category::Fixup,
                            format!(
                                "Process already set for track process {} - ignoring {}",
                                p.name, t.text
                            ),
                        );
                        continue;
                    }
                    p.process = t.text.clone();
                    p.params = node.words[2..].iter().map(|t| t.text.clone()).collect();
                    if !p.params.is_empty() {
                        if p.param_match == ParamMatch::None {
                            p.param_match = ParamMatch::Exact;
                        }
                        p.full_command = true;
                    }
                }
                "param_match" => match node.words.get(1).map(|t| t.text.as_str()) {
                    None => {
                        p.param_match = ParamMatch::Exact;
                        p.full_command = true;
                    }
                    Some("initial") => {
                        p.param_match = ParamMatch::Initial;
                        p.full_command = true;
                    }
                    Some("partial") => {
                        p.param_match = ParamMatch::Partial;
                        p.full_command = true;
                    }
                    Some(other) => {
                        let t = node.words[1].clone();
                        self.warn(
                            &t,
                            Category::Fixup,
                            format!("Invalid param_match type {other} - ignoring"),
                        );
                    }
                },
                "weight" => {
                    // keepalived takes the first weight other than 0 (its default).
                    if p.weight != 0 {
                        let t = node.words.get(1).unwrap_or(&kw).clone();
                        self.warn(
                            &t,
                            Category::Fixup,
                            format!(
                                "Weight already set for track process {} - ignoring {}",
                                p.name, t.text
                            ),
                        );
                        continue;
                    }
                    let name = p.name.clone();
                    if let Some((w, r)) = self.def_weight(node, "vrrp_track_process", &name) {
                        p.weight = w;
                        p.reverse |= r;
                    }
                }
                "quorum" => {
                    if let Some(q) = self.number(node, 1, 1, 65535) {
                        if q as u32 > p.quorum_max {
                            self.warn(
                                &kw,
                                Category::Fixup,
                                "Quorum is greater than quorum_max - ignoring".into(),
                            );
                        } else {
                            p.quorum = q as u32;
                        }
                    }
                }
                "quorum_max" => {
                    if let Some(q) = self.number(node, 1, 0, 65535) {
                        let q = q as u32;
                        if (q != 0 || p.quorum > 1) && q < p.quorum {
                            self.warn(
                                &kw,
                                Category::Fixup,
                                "quorum_max is less than quorum - ignoring".into(),
                            );
                        } else {
                            p.quorum_max = q;
                            if q == 0 {
                                p.quorum = 0;
                            } else if p.quorum == 0 {
                                p.quorum = 1;
                            }
                        }
                    }
                }
                "delay" | "terminate_delay" | "fork_delay" => {
                    if let Some(us) = self.seconds_us(node, 1) {
                        if !(1..=3_600_000_000).contains(&us) {
                            let t = node.words[1].clone();
                            self.err(
                                &t,
                                format!(
                                    "{} ({}) for vrrp_track_process {} must be between \
                                     [0.000001..3600] inclusive",
                                    kw.text, t.text, p.name
                                ),
                            );
                            continue;
                        }
                        if kw.text != "fork_delay" {
                            p.terminate_delay_us = us;
                        }
                        if kw.text != "terminate_delay" {
                            p.fork_delay_us = us;
                        }
                    }
                }
                "full_command" => p.full_command = true,
                _ => {
                    self.unsupported(node, &format!("vrrp_track_process {}", p.name));
                    continue;
                }
            }
            self.no_block(node);
        }
        if p.process.is_empty() {
            self.warn(
                name,
                Category::Fixup,
                format!("track process '{}' process name not specified", p.name),
            );
            return;
        }
        if self.config.track_process(&p.name).is_some() {
            self.warn(
                name,
                Category::Fixup,
                format!(
                    "vrrp_track_process {} is defined again: keepalived tracks the first; \
                     ignoring this one",
                    p.name
                ),
            );
            return;
        }
        self.config.track_processes.push(p);
    }

    /// One line of an instance's or sync group's `track_file { … }` or `track_process { … }`:
    /// `NAME [weight N [reverse|noreverse]]`, naming a block defined above it (keepalived
    /// looks names up as it parses). `None`, with keepalived's warning, for what it ignores.
    fn tracked(
        &mut self,
        n: &Node,
        owner: &str,
        kind: Tracker,
    ) -> Option<(String, Option<i16>, Option<bool>)> {
        let what = match kind {
            Tracker::File => "file",
            Tracker::Process => "process",
        };
        let t = n.words[0].clone();
        let name = t.text.clone();
        let defined = match kind {
            Tracker::File => self.config.track_file(&name).is_some(),
            Tracker::Process => self.config.track_process(&name).is_some(),
        };
        if !defined {
            self.warn(
                &t,
                Category::Fixup,
                format!("({owner}) track {what} {name} not found, ignoring..."),
            );
            return None;
        }
        if n.block.is_some() {
            self.no_block(n);
            return None;
        }
        let Some(opt) = n.words.get(1).cloned() else {
            return Some((name, None, None));
        };
        if opt.text != "weight" {
            self.warn(
                &opt,
                Category::Fixup,
                format!(
                    "({owner}) unknown track {what} option {} - ignoring",
                    opt.text
                ),
            );
            return None;
        }
        let Some(wt) = n.words.get(2).cloned() else {
            self.warn(
                &opt,
                Category::Fixup,
                format!(
                    "({owner}) weight without value specified for track {what} {name} - ignoring"
                ),
            );
            return None;
        };
        let weight = match wt.text.parse::<i32>() {
            Ok(w) if (-254..=254).contains(&w) => w as i16,
            _ => {
                self.err(
                    &wt,
                    format!(
                        "({owner}) weight for track {what} {name} must be in [-254..254] \
                         inclusive, found '{}'",
                        wt.text
                    ),
                );
                return None;
            }
        };
        let reverse = match n.words.get(3).map(|t| t.text.as_str()) {
            None => None,
            Some("reverse") => Some(true),
            Some("noreverse") => Some(false),
            Some(other) => {
                let o = n.words[3].clone();
                match kind {
                    Tracker::File => {
                        self.warn(
                            &o,
                            Category::Fixup,
                            format!(
                                "({owner}) unknown track file {name} weight option {other} - \
                                 ignoring"
                            ),
                        );
                        return None;
                    }
                    Tracker::Process => {
                        self.warn(
                            &o,
                            Category::Fixup,
                            format!(
                                "({owner}) unknown track_process {name} weight option {other} \
                                 - ignoring"
                            ),
                        );
                        None
                    }
                }
            }
        };
        self.extra(n, 3);
        Some((name, Some(weight), reverse))
    }

    // --- vrrp_sync_group -----------------------------------------------------------------------

    fn sync_group(&mut self, name: &Token, nodes: &[Node]) {
        let mut g = SyncGroup {
            name: name.text.clone(),
            instances: Vec::new(),
            notify: Default::default(),
            tracking_weight: false,
            track_files: Vec::new(),
            track_processes: Vec::new(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            source: self.source(name),
        };
        let mut group_seen = false;
        let mut scripts: Vec<(TrackScript, u64, Location)> = Vec::new();
        for node in nodes {
            let kw = node.words[0].clone();
            match kw.text.as_str() {
                "group" => {
                    if let Some(b) = self.block(node) {
                        // keepalived keeps the first list.
                        if group_seen {
                            self.warn(
                                &kw,
                                Category::Fixup,
                                format!("Group list already specified for sync group {}", g.name),
                            );
                            continue;
                        }
                        group_seen = true;
                        for n in b {
                            g.instances.extend(n.words.iter().map(|t| t.text.clone()));
                        }
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    if !self.no_block(node) {
                        continue;
                    }
                    let k = kw.text.as_str();
                    let slot = match k {
                        "notify_master" => &mut g.notify.master,
                        "notify_backup" => &mut g.notify.backup,
                        "notify_fault" => &mut g.notify.fault,
                        "notify_stop" => &mut g.notify.stop,
                        _ => &mut g.notify.any,
                    };
                    // keepalived keeps the first and warns about the others.
                    if slot.is_some() {
                        let t = node.words.get(1).unwrap_or(&kw).clone();
                        let msg = format!(
                            "vrrp group {}: {k} script already specified - ignoring {}",
                            g.name, t.text
                        );
                        self.warn(&kw, Category::Fixup, msg);
                    } else {
                        *slot = self.notify(node).map(Box::new);
                    }
                }
                "smtp_alert" => self.no_effect(&kw, validate::no_effect_why("smtp_alert")),
                "notify_priority_changes" => {
                    let gname = g.name.clone();
                    if let Some(b) = self.true_false(node, |v| {
                        format!(
                            "({gname}) Invalid value '{v}' for sync group notify_priority_changes \
                             specified"
                        )
                    }) {
                        g.notify.priority_changes = Some(b);
                    }
                }
                "sync_group_tracking_weight" => {
                    if self.no_block(node) {
                        g.tracking_weight = true;
                    }
                }
                "track_file" => {
                    if let Some(b) = self.block(node) {
                        for n in b {
                            let gname = g.name.clone();
                            if let Some((file, weight, reverse)) =
                                self.tracked(n, &gname, Tracker::File)
                            {
                                if g.track_files.iter().any(|x| x.file == file) {
                                    self.warn(
                                        &n.words[0],
                                        Category::Fixup,
                                        format!("({gname}) duplicate track_file {file} - ignoring"),
                                    );
                                    continue;
                                }
                                g.track_files.push(TrackedFile {
                                    file,
                                    weight,
                                    reverse,
                                });
                            }
                        }
                    }
                }
                "track_process" => {
                    if let Some(b) = self.block(node) {
                        for n in b {
                            let gname = g.name.clone();
                            if let Some((process, weight, reverse)) =
                                self.tracked(n, &gname, Tracker::Process)
                            {
                                if g.track_processes.iter().any(|x| x.process == process) {
                                    self.warn(
                                        &n.words[0],
                                        Category::Fixup,
                                        format!(
                                            "({gname}) duplicate track_process {process} - ignoring"
                                        ),
                                    );
                                    continue;
                                }
                                g.track_processes.push(TrackedProcess {
                                    process,
                                    weight,
                                    reverse,
                                });
                            }
                        }
                    }
                }
                "track_interface" => {
                    let gname = g.name.clone();
                    self.track_interface_block(node, &gname, &mut g.track_interfaces);
                }
                "track_script" => {
                    if let Some(b) = self.block(node) {
                        for n in b {
                            self.seq += 1;
                            let Some(t) = self.track_script(n) else {
                                continue;
                            };
                            if scripts.iter().any(|(x, _, _)| x.script == t.script) {
                                self.warn(
                                    &n.words[0],
                                    Category::Fixup,
                                    format!(
                                        "({}) duplicate track_script {} - ignoring",
                                        g.name, t.script
                                    ),
                                );
                            } else {
                                scripts.push((t, self.seq, self.loc(&n.words[0])));
                            }
                        }
                    }
                }
                _ => self.unsupported(node, &format!("vrrp_sync_group {}", g.name)),
            }
        }
        // Resolved against the scripts once all are read, as an instance's are.
        let group = self.config.sync_groups.len();
        self.raw_group_scripts
            .extend(scripts.into_iter().map(|(t, seq, l)| (group, t, seq, l)));
        self.config.sync_groups.push(g);
    }

    // --- completing instances (keepalived's vrrp_complete_instance, the parts we need) ---------

    fn finish(mut self) -> Self {
        let raws = std::mem::take(&mut self.raw_instances);
        let global = self.config.global.clone();
        let defined: HashSet<String> = self.config.scripts.iter().map(|s| s.name.clone()).collect();
        for r in raws {
            if let Some(inst) = self.complete(r, &global, &defined) {
                self.config.instances.push(inst);
            }
        }
        for (g, t, seq, loc) in std::mem::take(&mut self.raw_group_scripts) {
            let name = self.config.sync_groups[g].name.clone();
            if let Some(t) = self.resolve_script(&name, "sync group", t, seq, loc, &defined) {
                self.config.sync_groups[g].track_scripts.push(t);
            }
        }
        self
    }

    /// A `track_script` entry of `owner` (an instance or a sync group, `what`) at `seq`: it
    /// must name a vrrp_script, which keepalived 2.2.7 also needs defined first (it resolves
    /// the name as it reads the entry); vrrpd tracks one defined later, and says so.
    fn resolve_script(
        &mut self,
        owner: &str,
        what: &str,
        t: TrackScript,
        seq: u64,
        loc: Location,
        defined: &HashSet<String>,
    ) -> Option<TrackScript> {
        match self.script_seq.get(&t.script) {
            _ if !defined.contains(&t.script) => {
                self.sink.warn(
                    Some(loc),
                    Category::Fixup,
                    format!("({owner}) track script {} not found, ignoring...", t.script),
                );
                None
            }
            Some(&def_seq) if def_seq > seq => {
                self.sink.warn(
                    Some(loc),
                    Category::Fixup,
                    format!(
                        "({owner}) vrrp_script {} is defined after this {what}: vrrpd tracks it, \
                         keepalived 2.2.7 ignores it ('not found')",
                        t.script
                    ),
                );
                Some(t)
            }
            _ => Some(t),
        }
    }

    fn complete(
        &mut self,
        r: RawInstance,
        global: &Global,
        defined: &HashSet<String>,
    ) -> Option<Instance> {
        let name = r.name.clone();
        let loc = Some(r.loc.clone());
        let source = SourceLoc {
            file: r.loc.file.clone(),
            line: r.loc.line,
        };
        let Some(vrid) = r.vrid else {
            if r.vrid_given {
                return None;
            }
            self.sink.error(
                loc,
                format!("({name}) no virtual_router_id: every vrrp_instance needs one (1..255)"),
            );
            return None;
        };
        let Some(interface) = r.interface.clone() else {
            self.sink.error(
                loc,
                format!("({name}) no 'interface': vrrpd needs the interface to run on"),
            );
            return None;
        };
        let strict = r.strict.unwrap_or(global.vrrp_strict);
        let family = r
            .vips
            .iter()
            .find_map(|v| v.vip.as_ref().map(|v| Family::of(&v.address)))
            .unwrap_or(Family::Ipv4);
        let version = match (r.version, family) {
            (Some(v), _) => v,
            (None, Family::Ipv6) => Version::V3,
            (None, Family::Ipv4) => global.vrrp_version,
        };

        // Priority from state, state from priority.
        let priority = r
            .priority
            .unwrap_or(if r.state == Some(InitialState::Master) {
                Priority::OWNER
            } else {
                Priority::DEFAULT
            });
        let mut state = r.state.unwrap_or(if priority.is_owner() {
            InitialState::Master
        } else {
            InitialState::Backup
        });
        if strict && r.state.is_some() && (state == InitialState::Master) != priority.is_owner() {
            self.sink.warn(
                loc.clone(),
                Category::Fixup,
                format!("({name}) State MASTER must match being address owner"),
            );
            state = if priority.is_owner() {
                InitialState::Master
            } else {
                InitialState::Backup
            };
        }

        // advert_int: decimal seconds, rounded per version.
        let advert_interval = match r.advert_us {
            None => Centis::SECOND,
            Some(us) => {
                let (interval, warning) = validate::advert_interval_of(version, us, &name);
                if let Some(w) = warning {
                    self.sink.warn(r.advert_loc.clone(), Category::Fixup, w);
                }
                interval
            }
        };

        let auth = match r.auth_type {
            Some("PASS") => {
                let (a, _) = Auth::pass(r.auth_pass.as_deref().unwrap_or_default());
                a
            }
            // keepalived keys AH with the auth_pass; without one it drops authentication (in
            // v2 outside strict mode; otherwise validate drops it with its own reason).
            Some(_)
                if !strict
                    && version == Version::V2
                    && r.auth_pass.is_none_or(|p| p.is_empty()) =>
            {
                self.sink.warn(
                    loc.clone(),
                    Category::Fixup,
                    format!("({name}) Authentication specified but no password given. Ignoring"),
                );
                Auth::None
            }
            Some(_) => Auth::Ah,
            None => Auth::None,
        };

        // One family per instance: keepalived skips the odd ones out ("address family must
        // match VRRP instance"); we refuse, at the address.
        let mut vips_raw = Vec::new();
        for v in r.vips {
            match &v.vip {
                Some(vip) if Family::of(&vip.address) != family => self.sink.error(
                    v.loc.clone(),
                    format!(
                        "({name}) virtual_ipaddress mixes IPv4 and IPv6: {} is not {family} like \
                         the first VIP; put it in virtual_ipaddress_excluded or another instance",
                        vip.address
                    ),
                ),
                _ => vips_raw.push(v),
            }
        }
        let resolve = |v: RawVip| {
            v.vip.map(|mut vip| {
                if !v.dev_given {
                    vip.dev = interface.clone();
                }
                vip
            })
        };
        let vips: Vec<Vip> = vips_raw.into_iter().filter_map(resolve).collect();
        let excluded_vips: Vec<Vip> = r.evips.into_iter().filter_map(resolve).collect();

        let track_scripts = r
            .track_scripts
            .into_iter()
            .filter_map(|(t, seq, tloc)| {
                self.resolve_script(&name, "instance", t, seq, tloc, defined)
            })
            .collect();

        let accept = r.accept.unwrap_or(priority.is_owner() || !strict);
        let lower_prio_no_advert = r
            .lower_prio_no_advert
            .unwrap_or(strict || global.lower_prio_no_advert);
        if strict && r.lower_prio_no_advert == Some(false) {
            self.sink.warn(
                loc.clone(),
                Category::Fixup,
                format!("({name}) Strict mode requires no lower priority advert. resetting"),
            );
        }
        if strict && r.garp_lower_prio_repeat.is_some_and(|n| n > 0) {
            self.sink.warn(
                loc.clone(),
                Category::Fixup,
                format!("({name}) Strict mode requires no repeat garps - resetting"),
            );
        }
        let preempt_delay = Centis(((r.preempt_delay_us + 5_000) / 10_000) as u32);

        Some(Instance {
            name,
            state,
            interface,
            vrid,
            priority,
            advert_interval,
            version,
            preempt: !r.nopreempt,
            preempt_delay,
            auth,
            vips,
            excluded_vips,
            unicast_src: r.unicast_src,
            unicast_peers: r.unicast_peers,
            mcast_src: r.mcast_src,
            track_interfaces: r.track_interfaces,
            track_scripts,
            track_files: r.track_files,
            track_processes: r.track_processes,
            dont_track_primary: r.dont_track_primary,
            skip_check_adv_addr: r.skip_check_adv_addr,
            notify: r.notify,
            garp: Garp {
                master_delay_s: r.garp_delay.unwrap_or(global.garp.master_delay_s),
                master_repeat: r.garp_repeat.unwrap_or(global.garp.master_repeat),
                master_refresh_s: r.garp_refresh.unwrap_or(global.garp.master_refresh_s),
                master_refresh_repeat: r
                    .garp_refresh_repeat
                    .unwrap_or(global.garp.master_refresh_repeat),
                // keepalived: unset, the global default, itself unset the global GARP delay
                // and repeat; with strict_mode none (and a set repeat is reset, with its
                // warning, below).
                lower_prio_delay_s: r.garp_lower_prio_delay.unwrap_or(if strict {
                    0
                } else {
                    global
                        .garp_lower_prio_delay_s
                        .unwrap_or(global.garp.master_delay_s)
                }),
                lower_prio_repeat: match r.garp_lower_prio_repeat {
                    Some(n) if strict && n > 0 => 0,
                    Some(n) => n,
                    None if strict => 0,
                    None => global
                        .garp_lower_prio_repeat
                        .unwrap_or(global.garp.master_repeat),
                },
            },
            accept,
            use_vmac: r.use_vmac,
            v3_checksum: r.v3_checksum.unwrap_or(global.v3_checksum),
            lower_prio_no_advert,
            strict,
            routes: r.routes,
            rules: r.rules,
            // Validation sets the final groups (global_defs may follow the instance).
            mcast_group4: global.mcast_group4,
            mcast_group6: global.mcast_group6,
            source,
        })
    }
}

/// `1`, `0.5`, `.25`, `2.` as microseconds; `None` for anything else (signs, exponents, junk).
fn parse_decimal_us(s: &str) -> Option<u64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || int.len() > 9
    {
        return None;
    }
    let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut us = int * 1_000_000;
    let mut scale = 100_000;
    for (k, b) in frac.bytes().enumerate() {
        let d = u64::from(b - b'0');
        if k < 6 {
            us += d * scale;
            scale /= 10;
        } else if k == 6 && d >= 5 {
            us += 1;
            break;
        } else {
            break;
        }
    }
    Some(us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal_us("1"), Some(1_000_000));
        assert_eq!(parse_decimal_us("0.5"), Some(500_000));
        assert_eq!(parse_decimal_us(".25"), Some(250_000));
        assert_eq!(parse_decimal_us("0.015"), Some(15_000));
        assert_eq!(parse_decimal_us("-1"), None);
        assert_eq!(parse_decimal_us("1e3"), None);
        assert_eq!(parse_decimal_us("."), None);
        assert_eq!(parse_decimal_us(""), None);
        assert_eq!(validate::fmt_us(400_000), "0.4");
        assert_eq!(validate::fmt_us(2_000_000), "2");
    }

    #[test]
    fn braces_expand() {
        assert_eq!(expand_braces("a/{x,y}.conf"), vec!["a/x.conf", "a/y.conf"]);
        assert_eq!(
            expand_braces("{a,b}/{c,d}"),
            vec!["a/c", "a/d", "b/c", "b/d"]
        );
        assert_eq!(expand_braces("plain*.conf"), vec!["plain*.conf"]);
        assert_eq!(expand_braces("{single}"), vec!["{single}"]);
        assert_eq!(expand_braces("{unclosed,"), vec!["{unclosed,"]);
    }

    #[test]
    fn references_follow_keepalived() {
        assert_eq!(reference("$IF", 0), Some(("IF", 3)));
        assert_eq!(reference("a ${IF}x", 2), Some(("IF", 7)));
        assert_eq!(reference("$IF,b", 0), Some(("IF", 3)));
        assert_eq!(reference("$IF.100", 0), None);
        assert_eq!(reference("$1", 0), None);
        assert_eq!(reference("${IF", 0), None);
        assert_eq!(reference("$", 0), None);
        assert_eq!(decomment("  a \"b # c\" # d  "), "a \"b # c\"");
        assert_eq!(decomment("x \\# y ! z"), "x \\# y");
    }

    #[test]
    fn multi_line_definition_ends_at_an_empty_line() {
        let text = "$V=\\\n 192.0.2.1 \\\n# comment only\n 192.0.2.2 \\\n\n\
                    vrrp_instance VI_1 {\ninterface eth0\nvirtual_router_id 1\n\
                    virtual_ipaddress {\n$V\n}\n}\n";
        let l = parse_str("t.conf", text).unwrap_or_else(|e| panic!("{e}"));
        let vips: Vec<String> = l.config.instances[0]
            .vips
            .iter()
            .map(|v| v.address.to_string())
            .collect();
        assert_eq!(vips, ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(l.config.instances[0].source.line, 6);
    }

    #[test]
    fn a_multi_line_definition_using_itself_is_refused_not_looped() {
        let text = "$M=x \\\n$M\nvrrp_instance VI_1 {\n$M\n}\n";
        let e = parse_str("t.conf", text).unwrap_err();
        assert!(
            e.errors()
                .iter()
                .any(|d| d.line() == Some(4) && d.message.contains("refer to itself")),
            "{e}"
        );
    }

    proptest::proptest! {
        /// keepalived's line language on any mix of its special characters: a model or
        /// diagnostics, never a panic or a hang (the fuzz target covers bytes at large).
        #[test]
        fn line_language_is_total(parts in proptest::collection::vec(
            proptest::sample::select(vec![
                "$A=", "$B=", "$A", "${A}", "${B}", "$_PWD", "$_HASH", "@vm ", "@^vm ", "@",
                "\\", "\n", "\n\n", " ", "\t", "{", "}", "\"", "#", "!", "é", "x", "1",
                "vrrp_instance ", "interface ", "virtual_router_id ", "priority ",
                "virtual_ipaddress ", "192.0.2.3", "~SEQ", "include ",
            ]),
            0..80,
        )) {
            let text: String = parts.concat();
            let options = super::super::LoadOptions {
                config_id: Some("vm".to_string()),
            };
            let _ = parse_str_with("p.conf", &text, &options);
        }
    }

    #[test]
    fn include_lines() {
        let p = |s: &str| include_pattern(&s.chars().collect::<Vec<_>>());
        assert_eq!(p("include conf.d/*.conf"), Some("conf.d/*.conf".into()));
        assert_eq!(p("  include \"a b.conf\" # c"), Some("a b.conf".into()));
        assert_eq!(p("includer x"), Some("x".into()));
        assert_eq!(p("include_me x"), None);
        assert_eq!(p("include"), None);
    }

    #[test]
    fn notify_fifos_follow_keepalived() {
        let text = "global_defs {\n\
                    notify_fifo_script \"/bin/reader a\" nobody\n\
                    notify_fifo /run/n.fifo root root\n\
                    notify_fifo /run/other.fifo\n\
                    notify_fifo_script /bin/second\n\
                    vrrp_notify_fifo /run/n.fifo\n\
                    vrrp_notify_fifo_script /bin/vr\n\
                    }\n\
                    vrrp_instance VI_1 {\ninterface eth0\nvirtual_router_id 1\n\
                    virtual_ipaddress {\n192.0.2.1\n}\n}\n";
        let l = parse_str("t.conf", text).unwrap_or_else(|e| panic!("{e}"));
        let g = &l.config.global;
        let f = g.notify_fifo.as_ref().expect("notify_fifo");
        assert_eq!(f.path, "/run/n.fifo");
        assert_eq!(
            (f.user.as_deref(), f.group.as_deref()),
            (Some("root"), Some("root"))
        );
        let s = f.script.as_ref().expect("its script, even given first");
        assert_eq!(
            (s.command.as_str(), s.user.as_deref()),
            ("/bin/reader a", Some("nobody"))
        );
        // The same file twice: keepalived keeps the global one only.
        assert_eq!(g.vrrp_notify_fifo, None);
        let messages: Vec<(Option<u32>, &str)> = l
            .warnings
            .iter()
            .map(|w| (w.line(), w.message.as_str()))
            .collect();
        assert!(
            messages.contains(&(
                Some(4),
                "notify_fifo already specified - ignoring /run/other.fifo"
            )),
            "{messages:?}"
        );
        assert!(
            messages.contains(&(
                Some(5),
                "notify_fifo_script already specified - ignoring /bin/second"
            )),
            "{messages:?}"
        );
        assert!(messages.contains(&(
            None,
            "notify FIFO /run/n.fifo has been specified for global and vrrp FIFO - ignoring vrrp FIFO"
        )));
        // A script without its FIFO opens nothing.
        let text = "global_defs {\nvrrp_notify_fifo_script /bin/vr\n}\n";
        let l = parse_str("t.conf", text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.config.global.vrrp_notify_fifo, None);
    }
}
