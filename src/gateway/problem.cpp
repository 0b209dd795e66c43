#include "gateway/problem.h"

#include "bourse/engine/event.h"
#include "gateway/json_writer.h"

namespace bourse::gateway {

const char* status_text(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

HttpResponse problem_response(const Problem& problem, std::string_view request_id) {
  HttpResponse r;
  r.status = problem.status;
  r.content_type = "application/problem+json";
  JsonWriter w(&r.body);
  w.begin_object();
  w.field("type", "/docs/errors#" + problem.code);
  w.field("title", status_text(problem.status));
  w.field("status", problem.status);
  w.field("code", problem.code);
  w.field("detail", problem.detail);
  w.field("request_id", request_id);
  w.end_object();
  return r;
}

Problem problem_from_reject(RejectReason reason) {
  Problem p;
  p.code = reject_reason_name(reason);
  switch (reason) {
    case RejectReason::kOrderNotFound:
      p.status = 404;
      p.detail = "no such order for this account";
      break;
    case RejectReason::kDuplicateClientOrderId:
    case RejectReason::kDuplicateInstrument:
    case RejectReason::kDuplicateAsset:
      p.status = 409;
      p.detail = "an identical identifier is already live";
      break;
    case RejectReason::kAccountDisabled:
      p.status = 403;
      p.detail = "the account is disabled; it can neither place nor amend orders";
      break;
    case RejectReason::kUnavailable:
      p.status = 503;
      p.detail = "the venue cannot make commands durable; try again later";
      break;
    case RejectReason::kCapacityExceeded:
      p.status = 503;
      p.detail = "the venue is at capacity";
      break;
    case RejectReason::kInstrumentHalted:
      p.status = 422;
      p.detail = "trading in this instrument is halted";
      break;
    case RejectReason::kInstrumentClosed:
      p.status = 422;
      p.detail = "this instrument is closed";
      break;
    case RejectReason::kInsufficientFunds:
      p.status = 422;
      p.detail = "available balance does not cover the order's hold";
      break;
    case RejectReason::kInvalidTick:
      p.status = 422;
      p.detail = "price is not a multiple of the instrument's tick size";
      break;
    case RejectReason::kInvalidLot:
      p.status = 422;
      p.detail = "quantity is not a multiple of the instrument's lot size";
      break;
    case RejectReason::kPriceOutOfBand:
      p.status = 422;
      p.detail = "price is outside the instrument's price band";
      break;
    case RejectReason::kPostOnlyWouldTake:
      p.status = 422;
      p.detail = "a post-only order would have matched on entry";
      break;
    case RejectReason::kInstrumentExternal:
      p.status = 422;
      p.detail = "this instrument trades on another market: its prices are market data here, it takes no orders";
      break;
    case RejectReason::kInsufficientMargin:
      p.status = 422;
      p.detail = "free margin (equity less initial margin of positions and open orders) would fall below zero";
      break;
    case RejectReason::kOrderLimitExceeded:
      p.status = 422;
      p.detail = "the order is above the account's max order quantity or notional for this instrument";
      break;
    case RejectReason::kPositionLimitExceeded:
      p.status = 422;
      p.detail = "the MARGIN position could pass the account's max position for this instrument";
      break;
    case RejectReason::kDailyLossLimit:
      p.status = 422;
      p.detail = "the account's max daily loss is reached: MARGIN orders must reduce positions until the day ends (UTC)";
      break;
    case RejectReason::kSessionClosed:
      p.status = 422;
      p.detail = "this instrument's market is between sessions; orders are taken from its pre-open or open";
      break;
    case RejectReason::kPreOpenOrderType:
      p.status = 422;
      p.detail = "in pre-open only orders that can rest are taken (LIMIT or stop, GTC/DAY/GTD): no MARKET, IOC or FOK";
      break;
    case RejectReason::kPriceOutsideCircuit:
      p.status = 422;
      p.detail = "the price is outside the instrument's lower and upper circuit";
      break;
    case RejectReason::kInvalidCircuit:
      p.status = 422;
      p.detail = "circuits: lower <= upper, both on the tick; breaker 1..10000 bps with window 1..3600 s and "
                 "cool-off 1..86400 s";
      break;
    case RejectReason::kMarginNotAllowed:
      p.status = 422;
      p.detail = "this account cannot trade this instrument on margin (cash-only account, or no rate for its tier)";
      break;
    default:
      p.status = 422;
      p.detail = std::string("rejected by the engine: ") + reject_reason_name(reason);
      break;
  }
  return p;
}

}  // namespace bourse::gateway
