//! Links the component with the small stack (`build/stack.rs`).

#[path = "../../../build/stack.rs"]
mod stack;

fn main() {
    stack::link_small_stack();
}
