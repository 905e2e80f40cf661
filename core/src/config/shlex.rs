//! Python's `shlex` lexer (3.11's `shlex.read_token`), ported once for the
//! reference's two uses of it: [`split`] is `shlex.split` of a program's
//! `command` (POSIX mode), [`tokens`] is the non-POSIX `shlex.shlex` that
//! splits `environment` values. Its errors carry Python's texts, which
//! the reference shows in spawn errors and config errors. It only splits
//! text: no variable, glob or tilde expansion, and no knowledge of what
//! the words mean.

/// Why the lexer gave up; `Display` is Python's `ValueError` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShlexError {
    /// A quote was left open.
    #[error("No closing quotation")]
    NoClosingQuotation,
    /// A backslash ended the input.
    #[error("No escaped character")]
    NoEscapedCharacter,
}

/// `shlex.split(s)`: POSIX mode, words split at whitespace only, no
/// comments. Single quotes are literal, double quotes allow `\"` and
/// `\\`, a backslash outside quotes escapes any character.
pub fn split(input: &str) -> Result<Vec<String>, ShlexError> {
    Lexer {
        input: input.chars(),
        pushback: None,
        state: State::Space,
        posix: true,
        whitespace_split: true,
        commenters: "",
        extra_wordchars: "",
    }
    .collect()
}

/// `shlex.shlex(s)` with `extra_wordchars` added to its word characters:
/// non-POSIX mode, `#` comments, quotes kept in the token and every other
/// punctuation character a token of its own.
pub fn tokens(input: &str, extra_wordchars: &'static str) -> Result<Vec<String>, ShlexError> {
    Lexer {
        input: input.chars(),
        pushback: None,
        state: State::Space,
        posix: false,
        whitespace_split: false,
        commenters: "#",
        extra_wordchars,
    }
    .collect()
}

/// Python's lexer states: `' '`, `'a'`, a quote, the escape, `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Space,
    Word,
    Quote(char),
    Escape,
    End,
}

/// The letters POSIX mode adds to the word characters.
const POSIX_WORDCHARS: &str = "ßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞ";

struct Lexer<'a> {
    input: std::str::Chars<'a>,
    pushback: Option<char>,
    state: State,
    posix: bool,
    whitespace_split: bool,
    commenters: &'static str,
    extra_wordchars: &'static str,
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_quote(c: char) -> bool {
    c == '\'' || c == '"'
}

impl Lexer<'_> {
    fn next_char(&mut self) -> Option<char> {
        self.pushback.take().or_else(|| self.input.next())
    }

    fn is_word(&self, c: char) -> bool {
        c.is_ascii_alphanumeric()
            || c == '_'
            || self.extra_wordchars.contains(c)
            || (self.posix && POSIX_WORDCHARS.contains(c))
    }

    /// `instream.readline()`: the rest of a comment, newline included.
    fn skip_line(&mut self) {
        while let Some(c) = self.next_char() {
            if c == '\n' {
                break;
            }
        }
    }

    /// One token, `None` at the end of the input (Python's `eof`).
    fn read_token(&mut self) -> Result<Option<String>, ShlexError> {
        let mut token = String::new();
        let mut quoted = false;
        // The state an escape returns to: a word or a double quote.
        let mut escaped_state = State::Word;
        loop {
            let next = self.next_char();
            match self.state {
                State::End => break,
                State::Space => match next {
                    None => {
                        self.state = State::End;
                        break;
                    }
                    Some(c) if is_whitespace(c) => {
                        if !token.is_empty() || (self.posix && quoted) {
                            break;
                        }
                    }
                    Some(c) if self.commenters.contains(c) => self.skip_line(),
                    Some('\\') if self.posix => {
                        escaped_state = State::Word;
                        self.state = State::Escape;
                    }
                    Some(c) if self.is_word(c) => {
                        token.push(c);
                        self.state = State::Word;
                    }
                    Some(c) if is_quote(c) => {
                        if !self.posix {
                            token.push(c);
                        }
                        self.state = State::Quote(c);
                    }
                    Some(c) if self.whitespace_split => {
                        token.push(c);
                        self.state = State::Word;
                    }
                    Some(c) => {
                        token.push(c);
                        break;
                    }
                },
                State::Quote(q) => {
                    quoted = true;
                    match next {
                        None => return Err(ShlexError::NoClosingQuotation),
                        Some(c) if c == q => {
                            if self.posix {
                                self.state = State::Word;
                            } else {
                                token.push(c);
                                self.state = State::Space;
                                break;
                            }
                        }
                        Some('\\') if self.posix && q == '"' => {
                            escaped_state = State::Quote(q);
                            self.state = State::Escape;
                        }
                        Some(c) => token.push(c),
                    }
                }
                State::Escape => {
                    let c = next.ok_or(ShlexError::NoEscapedCharacter)?;
                    // In a quote only the quote and the escape itself can
                    // be escaped; before anything else the backslash stays.
                    if let State::Quote(q) = escaped_state
                        && c != '\\'
                        && c != q
                    {
                        token.push('\\');
                    }
                    token.push(c);
                    self.state = escaped_state;
                }
                State::Word => match next {
                    None => {
                        self.state = State::End;
                        break;
                    }
                    Some(c) if is_whitespace(c) => {
                        self.state = State::Space;
                        if !token.is_empty() || (self.posix && quoted) {
                            break;
                        }
                    }
                    Some(c) if self.commenters.contains(c) => {
                        self.skip_line();
                        // Non-POSIX mode stays in the word: Python's quirk.
                        if self.posix {
                            self.state = State::Space;
                            if !token.is_empty() || quoted {
                                break;
                            }
                        }
                    }
                    Some(c) if self.posix && is_quote(c) => self.state = State::Quote(c),
                    Some('\\') if self.posix => {
                        escaped_state = State::Word;
                        self.state = State::Escape;
                    }
                    Some(c) if self.is_word(c) || is_quote(c) || self.whitespace_split => {
                        token.push(c);
                    }
                    Some(c) => {
                        self.pushback = Some(c);
                        self.state = State::Space;
                        if !token.is_empty() || (self.posix && quoted) {
                            break;
                        }
                    }
                },
            }
        }
        // Python's eof is None in POSIX mode and '' otherwise; a quoted
        // empty word is a token in POSIX mode.
        if token.is_empty() && !(self.posix && quoted) {
            return Ok(None);
        }
        Ok(Some(token))
    }
}

impl Iterator for Lexer<'_> {
    type Item = Result<String, ShlexError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read_token().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        split(s).unwrap()
    }

    fn config_tokens(s: &str) -> Vec<String> {
        tokens(s, "/.+-():").unwrap()
    }

    #[test]
    fn splitting_follows_python_shlex() {
        assert_eq!(
            words(r#"envdump.sh a "b c" 'd e'"#),
            ["envdump.sh", "a", "b c", "d e"]
        );
        assert_eq!(words(r#"a"b c"d"#), ["ab cd"]);
        assert_eq!(words(r"a\ b \x"), ["a b", "x"]);
        assert_eq!(words(r#""\x \" \\""#), [r#"\x " \"#]);
        assert_eq!(words("'' x"), ["", "x"]);
        assert_eq!(words("a # b"), ["a", "#", "b"]);
        assert_eq!(words("  \t "), Vec::<String>::new());
        assert_eq!(words("'it''s'"), ["its"]);
        assert_eq!(words("é x"), ["é", "x"]);
    }

    #[test]
    fn bad_quoting_is_refused_with_pythons_words() {
        assert_eq!(split("a 'b"), Err(ShlexError::NoClosingQuotation));
        assert_eq!(split("a \"b\\"), Err(ShlexError::NoEscapedCharacter));
        assert_eq!(split(r#"a\"b c""#), Err(ShlexError::NoClosingQuotation));
        assert_eq!(split("a \\"), Err(ShlexError::NoEscapedCharacter));
        assert_eq!(
            ShlexError::NoClosingQuotation.to_string(),
            "No closing quotation"
        );
        assert_eq!(
            ShlexError::NoEscapedCharacter.to_string(),
            "No escaped character"
        );
    }

    /// Each case checked against Python 3.11's
    /// `l = shlex.shlex(s); l.wordchars += '/.+-():'; list(l)`.
    #[test]
    fn non_posix_tokens_follow_python_shlex() {
        assert_eq!(
            config_tokens("A=1,B=\"x, y\""),
            ["A", "=", "1", ",", "B", "=", "\"x, y\""]
        );
        assert_eq!(
            config_tokens("A=\"x\"y,B=1"),
            ["A", "=", "\"x\"", "y", ",", "B", "=", "1"]
        );
        assert_eq!(config_tokens("P=$PATH"), ["P", "=", "$", "PATH"]);
        assert_eq!(config_tokens("A=1 \\ B"), ["A", "=", "1", "\\", "B"]);
        assert_eq!(
            config_tokens("A=b#c\n,B=2"),
            ["A", "=", "b", ",", "B", "=", "2"]
        );
        // A comment inside a word skips to the next line and the word
        // goes on there (non-POSIX mode does not end it).
        assert_eq!(config_tokens("A=b#c\nd"), ["A", "=", "bd"]);
        assert_eq!(config_tokens("A=é"), ["A", "=", "é"]);
        assert_eq!(config_tokens(""), Vec::<String>::new());
        assert_eq!(tokens("A=\"open", ""), Err(ShlexError::NoClosingQuotation));
    }
}
