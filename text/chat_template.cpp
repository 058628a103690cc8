#include "text/chat_template.h"

#include "tensor/check.h"

namespace neat {

namespace {

const char* kStart = "<|im_start|>";
const char* kEnd = "<|im_end|>";

}  // namespace

// ChatML is recognised by "<|im_start|>" and "<|im_end|>". A default system message is
// inserted by the template only under a test that the first message is not a system one
// (SmolLM2: {% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n
// ...<|im_end|>\n' }}); its text is what stands between "<|im_start|>system\n" and "<|im_end|>".
ChatTemplate ChatTemplate::recognise(const std::string& jinja) {
  const std::string head = jinja.substr(0, 80);
  NEAT_CHECK(jinja.find(kStart) != std::string::npos && jinja.find(kEnd) != std::string::npos,
             "chat template: not ChatML (no <|im_start|> ... <|im_end|>), the only format known; "
             "the template begins '", head, "'");
  NEAT_CHECK(jinja.find("tools") == std::string::npos,
             "chat template: a ChatML template with tool calls is not supported; it begins '",
             head, "'");
  ChatTemplate t;
  const bool inserts_system = jinja.find("messages[0]['role'] != 'system'") != std::string::npos ||
                              jinja.find("messages[0][\"role\"] != \"system\"") != std::string::npos;
  const std::string open = std::string(kStart) + "system\n";
  const size_t at = jinja.find(open);
  if (inserts_system) {
    NEAT_CHECK(at != std::string::npos, "chat template: it tests for a system message but "
               "writes none ('", head, "')");
    const size_t from = at + open.size(), to = jinja.find(kEnd, from);
    NEAT_CHECK(to != std::string::npos, "chat template: the default system message has no end");
    t.default_system_ = jinja.substr(from, to - from);
  }
  return t;
}

std::string ChatTemplate::apply(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt) const {
  std::string out;
  auto message = [&](const std::string& role, const std::string& content) {
    out += kStart + role + "\n" + content + kEnd + "\n";
  };
  if (!default_system_.empty() && !messages.empty() && messages[0].role != "system")
    message("system", default_system_);
  for (const ChatMessage& m : messages) message(m.role, m.content);
  if (add_generation_prompt) out += std::string(kStart) + "assistant\n";
  return out;
}

}  // namespace neat
