#include "tools/admin_context.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <set>

#include <fmt/format.h>

namespace vela::tools {

AdminContext::~AdminContext() {
  if (instance_) instance_->Shutdown();
}

std::string AdminContext::NamesrvAddrs() const {
  if (!namesrv.empty()) return namesrv;
  const char* env = std::getenv("VELA_NAMESRV");
  return env ? env : "";
}

Result<client::ClientInstance*> AdminContext::Instance() {
  if (!instance_) {
    client::ClientConfig config;
    config.namesrv_addr = NamesrvAddrs();
    config.request_timeout_ms = request_timeout_ms();
    config.instance_name = "admin";
    config.callback_threads = 1;
    VELA_ASSIGN_OR_RETURN(instance_, client::ClientInstance::Create(config, nullptr));
  }
  return instance_.get();
}

Result<net::Frame> AdminContext::Invoke(const std::string& addr, v1::Header header) {
  VELA_ASSIGN_OR_RETURN(auto* instance, Instance());
  auto result = instance->rpc().InvokeSync(addr, std::move(header), {}, request_timeout_ms());
  if (!result.ok()) return result.status().WithContext(addr);
  return result;
}

Result<v1::ClusterInfoResponse> AdminContext::ClusterInfo(bool include_topics) {
  VELA_ASSIGN_OR_RETURN(auto* instance, Instance());
  return instance->namesrv().GetClusterInfo(include_topics);
}

Status AdminContext::ForEachPage(const std::string& addr, v1::RequestCode code,
                                 const std::function<Status(const std::string& body)>& on_page,
                                 bool include_system) {
  std::string after;
  while (true) {
    v1::Header request;
    request.set_code(code);
    request.mutable_list_request()->set_start_after(after);
    if (include_system) request.mutable_list_request()->set_include_system(true);
    VELA_ASSIGN_OR_RETURN(auto response, Invoke(addr, std::move(request)));
    VELA_RETURN_IF_ERROR(on_page(response.body).WithContext(addr));
    const auto& page = response.header.list_page();
    if (!page.more() || page.count() == 0) return vela::Status::OK();
    after = page.last();
  }
}

int AdminContext::ForEachBroker(
    const std::vector<std::string>& addrs, const v1::Header& request,
    const std::function<void(const std::string& addr, const net::Frame& response)>& on_response,
    bool skip_not_found) {
  int code = kExitOk;
  for (const auto& addr : addrs) {
    auto response = Invoke(addr, request);
    if (!response.ok()) {
      if (skip_not_found && response.status().code() == vela::StatusCode::kNotFound) continue;
      code = Fail(response.status());
      continue;
    }
    on_response(addr, *response);
  }
  return code;
}

Result<std::vector<std::string>> AdminContext::TargetBrokers(const std::string& broker, const std::string& cluster) {
  if (!broker.empty()) return std::vector<std::string>{broker};
  return BrokerAddrs(cluster);
}

Result<std::vector<std::string>> AdminContext::BrokerAddrs(const std::string& cluster) {
  VELA_ASSIGN_OR_RETURN(auto info, ClusterInfo());
  std::set<std::string> addrs;
  for (const auto& b : info.brokers()) {
    if (!cluster.empty() && b.cluster_name() != cluster) continue;
    auto it = b.addrs().find(0);
    if (it != b.addrs().end()) addrs.insert(it->second);
  }
  if (addrs.empty()) {
    return vela::Status::NotFound(cluster.empty() ? std::string("no broker is registered")
                                                  : fmt::format("no broker in cluster {}", cluster));
  }
  return std::vector<std::string>(addrs.begin(), addrs.end());
}

Result<client::TopicRoute> AdminContext::Route(const std::string& topic) {
  VELA_ASSIGN_OR_RETURN(auto* instance, Instance());
  VELA_ASSIGN_OR_RETURN(auto response, instance->namesrv().GetRoute(topic));
  return client::ParseRoute(topic, response);
}

int Fail(const vela::Status& status) { return Fail(status.ToString()); }

int Fail(const std::string& message) {
  std::cout.flush();
  std::cerr << "error: " << message << std::endl;
  return kExitFailed;
}

void PrintJson(const nlohmann::json& doc) {
  std::cout << doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

void Table::Print() const {
  std::vector<size_t> widths(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) widths[i] = headers_[i].size();
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      line += cell;
      if (i + 1 < widths.size()) line += std::string(widths[i] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  };
  print_row(headers_);
  for (const auto& row : rows_) print_row(row);
  std::cout.flush();
}

std::string FormatTime(int64_t epoch_ms) {
  if (epoch_ms <= 0) return "-";
  std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{}.{:03d}", buf, static_cast<int>(epoch_ms % 1000));
}

nlohmann::json MessageJson(const client::MessageView& m) {
  nlohmann::json j;
  j["id"] = m.msg_id;
  j["topic"] = m.topic;
  j["queue"] = m.queue_id;
  j["offset"] = m.queue_offset;
  j["tag"] = m.tag;
  j["keys"] = m.keys;
  j["properties"] = nlohmann::json::object();
  for (const auto& [k, v] : m.properties) j["properties"][k] = IsValidUtf8(v) ? v : Base64Encode(v);
  if (IsValidUtf8(m.body)) {
    j["body"] = m.body;
  } else {
    j["body_base64"] = Base64Encode(m.body);
  }
  j["born_ms"] = m.born_timestamp_ms;
  j["store_ms"] = m.store_timestamp_ms;
  j["reconsume"] = m.reconsume_times;
  return j;
}

std::string MessageLine(const client::MessageView& m) {
  std::string keys;
  for (const auto& k : m.keys) keys += (keys.empty() ? "" : ",") + k;
  std::string props;
  for (const auto& [k, v] : m.properties) props += (props.empty() ? "" : ",") + k + "=" + v;
  std::string body = IsValidUtf8(m.body) ? m.body : "base64:" + Base64Encode(m.body);
  return fmt::format("id={} topic={} queue={} offset={} tag={} keys={} props={} stored={} body={}", m.msg_id,
                     m.topic, m.queue_id, m.queue_offset, m.tag.empty() ? "-" : m.tag, keys.empty() ? "-" : keys,
                     props.empty() ? "-" : props, FormatTime(m.store_timestamp_ms), body);
}

bool SplitKeyValue(const std::string& kv, std::string* key, std::string* value) {
  auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  *key = kv.substr(0, eq);
  *value = kv.substr(eq + 1);
  return true;
}

}  // namespace vela::tools
