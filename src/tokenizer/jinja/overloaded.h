// Overloaded{lambdas...}: one visitor for std::visit out of several lambdas.
#pragma once

namespace tunekit::jinja {

template <class... Fns>
struct Overloaded : Fns... {
  using Fns::operator()...;
};
template <class... Fns>
Overloaded(Fns...) -> Overloaded<Fns...>;

}  // namespace tunekit::jinja
