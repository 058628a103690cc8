#include "train/history.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace neat {

namespace {

std::string number(double x, const char* format = "%.6g") {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, format, x);
  return buffer;
}

// Text safe inside an SVG element: & < > escaped.
std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

// Mean of the last `window` values at each point (the curve a person reads through the noise).
std::vector<double> moving_average(const std::vector<double>& y, size_t window) {
  std::vector<double> out(y.size());
  double total = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    total += y[i];
    if (i >= window) total -= y[i - window];
    out[i] = total / double(std::min(i + 1, window));
  }
  return out;
}

// "Nice" tick spacing (1, 2 or 5 times a power of ten) for about `count` ticks over span.
double tick_step(double span, int count) {
  const double raw = span / count;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / power;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * power;
}

struct Series {
  std::string label, color;
  std::vector<double> x, y;
  bool dots = false;
  double opacity = 1.0;
};

// One chart with axes, ticks, a legend and its series, drawn in the box (left, top, w, h).
void draw_chart(std::ostringstream& svg, double left, double top, double w, double h,
                const std::string& title, const std::string& y_label,
                const std::vector<Series>& series, bool unit_range) {
  double x0 = 0, x1 = 1, y0 = unit_range ? 0 : 1e300, y1 = unit_range ? 1 : -1e300;
  for (const Series& s : series) {
    for (double x : s.x) x1 = std::max(x1, x);
    if (unit_range) continue;
    for (double y : s.y)
      if (std::isfinite(y)) y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
  if (!(y0 < y1)) y0 = unit_range ? 0 : y0 - 1, y1 = y0 + 1;
  if (!unit_range) y0 = std::min(0.0, y0);
  const double pad_l = 56, pad_r = 12, pad_t = 30, pad_b = 40;
  const double pw = w - pad_l - pad_r, ph = h - pad_t - pad_b;
  auto px = [&](double x) { return left + pad_l + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + pad_t + (1 - (y - y0) / (y1 - y0)) * ph; };

  svg << "<text x='" << left + w / 2 << "' y='" << top + 18
      << "' text-anchor='middle' font-weight='bold'>" << title << "</text>\n";
  svg << "<rect x='" << px(x0) << "' y='" << py(y1) << "' width='" << pw << "' height='" << ph
      << "' fill='none' stroke='#444'/>\n";
  const double ys = tick_step(y1 - y0, 5);
  for (double t = std::ceil(y0 / ys) * ys; t <= y1 + 1e-9 * ys; t += ys) {
    svg << "<line x1='" << px(x0) << "' x2='" << px(x1) << "' y1='" << py(t) << "' y2='" << py(t)
        << "' stroke='#ddd'/><text x='" << px(x0) - 6 << "' y='" << py(t) + 4
        << "' text-anchor='end' font-size='11'>" << number(t) << "</text>\n";
  }
  const double xs = std::max(1.0, tick_step(x1 - x0, 6));
  for (double t = 0; t <= x1 + 1e-9; t += xs) {
    svg << "<text x='" << px(t) << "' y='" << py(y0) + 16
        << "' text-anchor='middle' font-size='11'>" << number(t) << "</text>\n";
  }
  svg << "<text x='" << px((x0 + x1) / 2) << "' y='" << top + h - 6
      << "' text-anchor='middle' font-size='12'>optimizer step</text>\n";
  svg << "<text transform='translate(" << left + 14 << "," << py((y0 + y1) / 2)
      << ") rotate(-90)' text-anchor='middle' font-size='12'>" << y_label << "</text>\n";

  double legend_y = py(y1) + 14;
  for (const Series& s : series) {
    if (s.x.empty()) continue;
    if (s.dots) {
      for (size_t i = 0; i < s.x.size(); ++i)
        svg << "<circle cx='" << px(s.x[i]) << "' cy='" << py(s.y[i]) << "' r='3.5' fill='"
            << s.color << "'/>\n";
    }
    svg << "<polyline fill='none' stroke='" << s.color << "' stroke-opacity='" << s.opacity
        << "' stroke-width='1.5' points='";
    for (size_t i = 0; i < s.x.size(); ++i) {
      const double y = std::min(y1, std::max(y0, s.y[i]));
      svg << number(px(s.x[i]), "%.1f") << "," << number(py(y), "%.1f") << " ";
    }
    svg << "'/>\n";
    if (!s.label.empty()) {
      svg << "<text x='" << px(x1) - 8 << "' y='" << legend_y << "' text-anchor='end' "
          << "font-size='11' fill='" << s.color << "'>" << s.label << "</text>\n";
      legend_y += 14;
    }
  }
}

}  // namespace

std::string History::log_csv() const {
  std::string out = "step,epoch,lr,loss,acc\n";
  for (const StepRecord& r : steps) {
    out += std::to_string(r.step) + "," + std::to_string(r.epoch) + "," + number(r.lr, "%.8g") +
           "," + number(r.loss, "%.6f") + "," + number(r.acc, "%.6f") + "\n";
  }
  return out;
}

std::string History::curves_svg(const std::string& title) const {
  std::vector<double> step, loss, acc;
  for (const StepRecord& r : steps) {
    step.push_back(double(r.step));
    loss.push_back(r.loss);
    acc.push_back(r.acc);
  }
  const size_t window = std::max<size_t>(1, steps.size() / 25);
  Series train_loss{"", "#1f77b4", step, loss, false, 0.25};
  Series train_loss_avg{"train (moving average)", "#1f77b4", step, moving_average(loss, window)};
  Series train_acc{"", "#1f77b4", step, acc, false, 0.25};
  Series train_acc_avg{"train (moving average)", "#1f77b4", step, moving_average(acc, window)};
  Series val_loss{"validation", "#d62728", {}, {}, true};
  Series val_acc{"validation", "#d62728", {}, {}, true};
  for (const EpochRecord& e : epochs) {
    if (e.val_acc < 0) continue;
    val_loss.x.push_back(double(e.step));
    val_loss.y.push_back(e.val_loss);
    val_acc.x.push_back(double(e.step));
    val_acc.y.push_back(e.val_acc);
  }
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='960' height='380' "
      << "font-family='sans-serif'>\n<rect width='960' height='380' fill='white'/>\n"
      << "<text x='480' y='16' text-anchor='middle' font-size='13'>" << xml_escape(title)
      << "</text>\n";
  draw_chart(svg, 0, 14, 480, 366, "loss", "cross-entropy", {train_loss, train_loss_avg, val_loss},
             false);
  draw_chart(svg, 480, 14, 480, 366, "accuracy", "fraction correct",
             {train_acc, train_acc_avg, val_acc}, true);
  svg << "</svg>\n";
  return svg.str();
}

Json History::to_json() const {
  Json s = Json::array(), e = Json::array();
  for (const StepRecord& r : steps)
    s.push_back(Json::array({Json(r.step), Json(r.epoch), Json(r.lr), Json(r.loss), Json(r.acc)}));
  for (const EpochRecord& r : epochs) {
    e.push_back(Json::array({Json(r.epoch), Json(r.step), Json(r.train_loss), Json(r.train_acc),
                             Json(r.val_loss), Json(r.val_acc)}));
  }
  Json out = Json::object();
  out.set("steps", s);
  out.set("epochs", e);
  return out;
}

History History::from_json(const Json& json) {
  History h;
  for (const Json& r : json["steps"].as_array()) {
    h.steps.push_back({r[0].as_int(), r[1].as_int(), r[2].as_number(), r[3].as_number(),
                       r[4].as_number()});
  }
  for (const Json& r : json["epochs"].as_array()) {
    h.epochs.push_back({r[0].as_int(), r[1].as_int(), r[2].as_number(), r[3].as_number(),
                        r[4].as_number(), r[5].as_number()});
  }
  return h;
}

}  // namespace neat
