//! Integration tests of stormdesk-jinja: the differential table against
//! Jinja2 with StackStorm's filters, facts from StackStorm's own filter
//! tests, and the function registry with a datastore.

mod differential;
mod fuzz;
mod st2_facts;
