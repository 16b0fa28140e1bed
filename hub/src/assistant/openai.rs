//! Any OpenAI-compatible chat-completions server (OpenAI, vLLM, llama.cpp's server, Ollama,
//! LiteLLM, …), streaming.
//!
//! The reply streams as server-sent events; each piece grows the visitor's draft bubble. The
//! model can ask for a human through a `request_human` tool (function) call. Everything that is
//! not a well-formed, finished stream is an error, so the hub posts its fallback instead of half
//! a sentence.

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use protocol::{Brief, BriefSource};

use super::transcript::{chat_messages, vision_messages};
use super::{Assistant, AssistantError, Reply, ReplyRequest};

/// A workspace's OpenAI-compatible backend, from the workspaces file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiConfig {
    /// The API root, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`;
    /// `/chat/completions` is appended.
    pub base_url: String,
    pub model: String,
    /// The environment variable holding the API key (keys never sit in files); none for local
    /// servers that need no key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub system_prompt: String,
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Send the visitor's images to the model (`image_url` parts): only for a model that accepts
    /// image input (e.g. `gpt-4o`); others refuse the whole request. Off: a note of what was
    /// attached, as for every backend. At most the last `transcript::MAX_IMAGES` images, each
    /// its thumbnail (docs/assistants.md).
    #[serde(default)]
    pub images: bool,
}

/// What the visitor reads when the model asked for a human without saying anything.
pub const HUMAN_REQUESTED_TEXT: &str =
    "I've asked a human teammate to join this chat; they'll be with you shortly.";

#[derive(Debug)]
pub struct OpenAiAssistant {
    config: OpenAiConfig,
    api_key: Option<String>,
    client: reqwest::Client,
}

impl OpenAiAssistant {
    pub fn new(config: OpenAiConfig, api_key: Option<String>) -> Result<Self, AssistantError> {
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()?;
        Ok(OpenAiAssistant {
            config,
            api_key,
            client,
        })
    }

    fn body(&self, req: &ReplyRequest<'_>) -> Value {
        let prompt = &self.config.system_prompt;
        // Text only unless images are configured: a model without image input refuses parts.
        let messages = if self.config.images {
            json!(vision_messages(prompt, req.transcript, req.images))
        } else {
            json!(chat_messages(prompt, req.transcript))
        };
        let mut body = json!({
            "model": self.config.model,
            "stream": true,
            "messages": messages,
            "tools": [{
                "type": "function",
                "function": {
                    "name": "request_human",
                    "description": "Bring a human teammate into the chat: when you cannot help, or the visitor asks for a person.",
                    "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}}
                }
            }]
        });
        if let Some(t) = self.config.temperature {
            body["temperature"] = json!(t);
        }
        body
    }
}

/// The instructions a model gets to write a brief (docs/assistants.md quotes them). The
/// conversation follows as one user message of plain lines (`brief::as_text`).
pub const BRIEF_PROMPT: &str = "You write a brief for a human support agent who is taking over \
this chat from an AI assistant right now. Read the conversation and answer with one JSON object \
and nothing else: {\"wants\": what the visitor wants, in one or two sentences; \"answered\": \
what the AI answered or promised so far, in one or two sentences; \"why_human\": why a human \
was asked for, in one sentence, or null if nobody asked; \"language\": the language the \
visitor writes in, by its English name}. Write the brief in English. Do not invent facts.";

/// Added after the system prompt when the holder asks for a suggestion (docs/assistants.md).
pub const SUGGEST_PROMPT: &str = "A human teammate is handling this chat now and asks you for a \
reply they could send to the visitor's last message. Write only that reply, as they would send \
it, in the visitor's language. Do not say you are an AI and do not hand over to anyone.";

impl OpenAiAssistant {
    fn url(&self) -> String {
        format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        )
    }

    async fn post(&self, body: &Value) -> Result<reqwest::Response, AssistantError> {
        let body = serde_json::to_vec(body).map_err(|e| AssistantError::Failed(e.to_string()))?;
        let mut call = self
            .client
            .post(self.url())
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = &self.api_key {
            call = call.bearer_auth(key);
        }
        let res = call.send().await?;
        if !res.status().is_success() {
            return Err(AssistantError::Status(res.status().as_u16()));
        }
        Ok(res)
    }

    /// A streamed completion, each piece shown in `draft`.
    async fn stream(&self, body: &Value, draft: &super::Draft) -> Result<Reply, AssistantError> {
        let res = self.post(body).await?;
        let mut stream = res.bytes_stream();
        let mut sse = SseParser::default();
        let mut reply = StreamedReply::default();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            for data in sse.feed(&chunk) {
                if reply.apply(&data)? {
                    draft.set(&reply.text);
                }
                if reply.done {
                    return reply.finish();
                }
            }
        }
        // The connection ended: fine only if the model said it had finished.
        if reply.finished {
            return reply.finish();
        }
        Err(AssistantError::Malformed(
            "the stream ended before the reply was complete".into(),
        ))
    }

    fn brief_body(&self, req: &super::BriefRequest<'_>) -> Value {
        let mut body = json!({
            "model": self.config.model,
            "stream": false,
            "messages": [
                {"role": "system", "content": BRIEF_PROMPT},
                {"role": "user", "content": super::brief::as_text(req.transcript)},
            ],
        });
        if let Some(t) = self.config.temperature {
            body["temperature"] = json!(t);
        }
        body
    }
}

/// The brief in a model's answer: the first JSON object of its content (models like to wrap
/// it in prose or a code fence), each part a string; the widget's language when the model
/// named none.
pub fn parse_brief(content: &str, language: Option<&str>) -> Result<Brief, AssistantError> {
    let (Some(start), Some(end)) = (content.find('{'), content.rfind('}')) else {
        return Err(AssistantError::Malformed("the brief is not JSON".into()));
    };
    #[derive(Deserialize)]
    struct Parts {
        wants: String,
        answered: String,
        #[serde(default)]
        why_human: Option<String>,
        #[serde(default)]
        language: Option<String>,
    }
    let parts: Parts =
        serde_json::from_str(content.get(start..=end).unwrap_or_default()).map_err(|e| {
            AssistantError::Malformed(format!("the brief is not the object asked for: {e}"))
        })?;
    Ok(Brief {
        wants: parts.wants,
        answered: parts.answered,
        why_human: parts.why_human,
        language: parts.language.or_else(|| language.map(str::to_owned)),
        made_by: BriefSource::Openai,
    }
    .bounded())
}

#[async_trait::async_trait]
impl Assistant for OpenAiAssistant {
    async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, AssistantError> {
        self.stream(&self.body(req), req.draft).await
    }

    /// One chat completion, not streamed (nobody watches a brief being written).
    async fn brief(&self, req: &super::BriefRequest<'_>) -> Result<Brief, AssistantError> {
        let res = self.post(&self.brief_body(req)).await?;
        let bytes = res.bytes().await?;
        let answer: Value = serde_json::from_slice(&bytes)
            .map_err(|e| AssistantError::Malformed(format!("the answer is not JSON: {e}")))?;
        let content = answer
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| AssistantError::Malformed("the answer has no message".into()))?;
        parse_brief(content, req.language)
    }

    /// The reply's request with [`SUGGEST_PROMPT`] last and no tools: the model writes for the
    /// teammate, and cannot ask for a human.
    async fn suggest(&self, req: &ReplyRequest<'_>) -> Result<Reply, AssistantError> {
        let mut body = self.body(req);
        if let Some(obj) = body.as_object_mut() {
            obj.remove("tools");
        }
        if let Some(messages) = body["messages"].as_array_mut() {
            messages.push(json!({"role": "system", "content": SUGGEST_PROMPT}));
        }
        self.stream(&body, req.draft).await
    }

    fn wants_images(&self, _workspace_id: &str) -> bool {
        self.config.images
    }
}

/// Splits a server-sent event stream into the `data` of each event (pure; bytes may arrive cut
/// anywhere, even inside a UTF-8 character).
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some((end, sep)) = find_blank_line(&self.buf) {
            let block: Vec<u8> = self.buf.drain(..end + sep).take(end).collect();
            let text = String::from_utf8_lossy(&block);
            let data: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if !data.is_empty() {
                out.push(data.join("\n"));
            }
        }
        out
    }
}

/// The end of the first event block and the length of its separator.
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// A reply assembled from stream chunks (pure).
#[derive(Debug, Default)]
pub struct StreamedReply {
    pub text: String,
    pub needs_human: bool,
    /// A chunk carried a `finish_reason`.
    pub finished: bool,
    /// `[DONE]` arrived.
    pub done: bool,
}

impl StreamedReply {
    /// Apply one event's data; `true` when the text grew.
    pub fn apply(&mut self, data: &str) -> Result<bool, AssistantError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(false);
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| AssistantError::Malformed(format!("a chunk is not JSON: {e}")))?;
        if let Some(err) = chunk.get("error") {
            return Err(AssistantError::Malformed(format!(
                "the stream reported {err}"
            )));
        }
        let choice = chunk
            .get("choices")
            .and_then(|c| c.get(0))
            .ok_or_else(|| AssistantError::Malformed("a chunk has no choices".into()))?;
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        let mut grew = false;
        if let Some(piece) = delta.get("content").and_then(Value::as_str)
            && !piece.is_empty()
        {
            self.text.push_str(piece);
            grew = true;
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for call in calls {
                let name = call.pointer("/function/name").and_then(Value::as_str);
                if name == Some("request_human") {
                    self.needs_human = true;
                }
            }
        }
        if choice.get("finish_reason").is_some_and(|r| !r.is_null()) {
            self.finished = true;
        }
        Ok(grew)
    }

    pub fn finish(self) -> Result<Reply, AssistantError> {
        let text = self.text.trim().to_owned();
        match (text.is_empty(), self.needs_human) {
            (false, needs_human) => Ok(Reply { text, needs_human }),
            (true, true) => Ok(Reply {
                text: HUMAN_REQUESTED_TEXT.into(),
                needs_human: true,
            }),
            (true, false) => Err(AssistantError::Malformed("the reply is empty".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_any_split_of_the_bytes() {
        let stream = "data: {\"a\":1}\n\n: comment\n\ndata: é\r\n\r\nevent: x\ndata: two\ndata: lines\n\ndata: [DONE]\n\n";
        let bytes = stream.as_bytes();
        for cut in 1..bytes.len() {
            let mut p = SseParser::default();
            let mut got = p.feed(&bytes[..cut]);
            got.extend(p.feed(&bytes[cut..]));
            assert_eq!(
                got,
                ["{\"a\":1}", "é", "two\nlines", "[DONE]"],
                "cut at {cut}"
            );
        }
    }

    fn chunk(content: &str) -> String {
        json!({"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
            .to_string()
    }

    #[test]
    fn pieces_grow_the_reply_until_done() {
        let mut r = StreamedReply::default();
        assert!(r.apply(&chunk("Your order ")).expect("ok"));
        assert!(r.apply(&chunk("shipped.")).expect("ok"));
        let stop = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
        assert!(!r.apply(&stop.to_string()).expect("ok"));
        assert!(r.finished);
        r.apply("[DONE]").expect("ok");
        assert!(r.done);
        assert_eq!(
            r.finish().expect("a reply"),
            Reply {
                text: "Your order shipped.".into(),
                needs_human: false
            }
        );
    }

    #[test]
    fn a_request_human_tool_call_flags_the_reply() {
        let mut r = StreamedReply::default();
        let call = json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_1", "type": "function",
             "function": {"name": "request_human", "arguments": ""}}]}, "finish_reason": null}]});
        r.apply(&call.to_string()).expect("ok");
        let reply = r.finish().expect("a reply");
        assert!(reply.needs_human);
        assert_eq!(reply.text, HUMAN_REQUESTED_TEXT);
    }

    #[test]
    fn malformed_chunks_are_errors() {
        let mut r = StreamedReply::default();
        assert!(matches!(
            r.apply("{not json"),
            Err(AssistantError::Malformed(_))
        ));
        assert!(matches!(
            r.apply("{\"choices\": []}"),
            Err(AssistantError::Malformed(_))
        ));
        assert!(matches!(
            r.apply("{\"error\": {\"message\": \"overloaded\"}}"),
            Err(AssistantError::Malformed(_))
        ));
        assert!(matches!(
            StreamedReply::default().finish(),
            Err(AssistantError::Malformed(_))
        ));
    }

    #[test]
    fn a_brief_is_read_from_the_first_json_object_of_the_answer() {
        let content = "Here you go:\n```json\n{\"wants\": \"A refund\", \"answered\": \"Policy explained\", \"why_human\": null}\n```";
        let b = parse_brief(content, Some("de-DE")).expect("a brief");
        assert_eq!(
            (b.wants.as_str(), b.answered.as_str()),
            ("A refund", "Policy explained")
        );
        assert_eq!(b.why_human, None);
        assert_eq!(b.language.as_deref(), Some("de-DE"));
        assert_eq!(b.made_by, BriefSource::Openai);
        for bad in ["no json here", "{\"wants\": 3}", "{}"] {
            assert!(
                matches!(parse_brief(bad, None), Err(AssistantError::Malformed(_))),
                "{bad}"
            );
        }
    }
}
