// Chat templates of instruct models. A model ships its template as Jinja (GGUF
// tokenizer.chat_template, HF tokenizer_config.json); we do not run Jinja: known templates are
// recognised from their text and applied by hand, unknown ones are refused.
//
// ChatML (SmolLM2, Qwen2): every message is "<|im_start|>" role "\n" content "<|im_end|>\n";
// the generation prompt is "<|im_start|>assistant\n". SmolLM2's template also puts a default
// system message first when the conversation does not start with one ("You are a helpful AI
// assistant named SmolLM, trained by Hugging Face"): that text is read from the template.
//
//   ChatTemplate chat = ChatTemplate::recognise(gguf_chat_template_text);
//   std::string prompt = chat.apply({{"user", "Hi"}}, /*add_generation_prompt=*/true);
//   // "<|im_start|>system\nYou are ...<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
//   // "<|im_start|>assistant\n"
#pragma once
#include <string>
#include <vector>

namespace neat {

struct ChatMessage {
  std::string role;     // "system", "user", "assistant"
  std::string content;
};

class ChatTemplate {
 public:
  enum class Format { kChatML };

  // ChatML without a default system message.
  ChatTemplate() = default;
  // The template a Jinja text stands for; error naming what was not recognised.
  static ChatTemplate recognise(const std::string& jinja);

  std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

  Format format() const { return format_; }
  const std::string& default_system() const { return default_system_; }  // empty: none

 private:
  Format format_ = Format::kChatML;
  std::string default_system_;
};

}  // namespace neat
