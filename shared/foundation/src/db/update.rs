//! Update expressions built from named parts instead of joined strings:
//! every attribute is aliased (`#name`), so reserved words (`status`,
//! `count`, `segments`, ...) never break an expression, and every value gets
//! its own placeholder (`:name`).

use super::Item;
use aws_sdk_dynamodb::types::{AttributeValue, Update};
use std::collections::HashMap;

#[derive(Clone, Debug, Default)]
pub struct UpdateExpr {
    set: Vec<String>,
    add: Vec<String>,
    remove: Vec<String>,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl UpdateExpr {
    pub fn new() -> Self {
        Self::default()
    }

    /// `SET #attr = :attr`.
    pub fn set(mut self, attr: &str, value: AttributeValue) -> Self {
        let (name, placeholder) = self.bind(attr, value);
        self.set.push(format!("{name} = {placeholder}"));
        self
    }

    /// `SET #attr = :attr` when `value` is `Some`, `REMOVE #attr` when `None`.
    pub fn set_or_remove(self, attr: &str, value: Option<AttributeValue>) -> Self {
        match value {
            Some(v) => self.set(attr, v),
            None => self.remove(attr),
        }
    }

    /// `ADD #attr :attr` (a number increment, or a set union).
    pub fn add(mut self, attr: &str, value: AttributeValue) -> Self {
        let (name, placeholder) = self.bind(attr, value);
        self.add.push(format!("{name} {placeholder}"));
        self
    }

    /// `SET #attr = list_append(if_not_exists(#attr, :empty), :attr)`: `value`
    /// (a list) appended to the list `attr`, which may not exist yet.
    pub fn append(mut self, attr: &str, value: AttributeValue) -> Self {
        let (name, placeholder) = self.bind(attr, value);
        let empty = format!(":{attr}_empty");
        self.values
            .insert(empty.clone(), AttributeValue::L(Vec::new()));
        self.set.push(format!(
            "{name} = list_append(if_not_exists({name}, {empty}), {placeholder})"
        ));
        self
    }

    /// `SET #target = if_not_exists(#source, #target) REMOVE #source`: the
    /// value of `source`, when there is one, replaces `target`'s.
    pub fn move_from(mut self, target: &str, source: &str) -> Self {
        let (to, from) = (self.name(target), self.name(source));
        self.set.push(format!("{to} = if_not_exists({from}, {to})"));
        self.remove.push(from);
        self
    }

    /// `REMOVE #attr`.
    pub fn remove(mut self, attr: &str) -> Self {
        let name = self.name(attr);
        self.remove.push(name);
        self
    }

    /// The write's condition. It names attributes as `#attr` (declared with
    /// [`UpdateExpr::named`] unless already used) and values as `:x` (declared
    /// with [`UpdateExpr::value`]).
    pub fn condition(mut self, expression: impl Into<String>) -> Self {
        self.condition = Some(expression.into());
        self
    }

    /// Declares `#attr` for a condition that reads an attribute the update does not write.
    pub fn named(mut self, attr: &str) -> Self {
        self.name(attr);
        self
    }

    /// Declares a condition value `placeholder` (with its leading `:`).
    pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.to_string(), value);
        self
    }

    fn name(&mut self, attr: &str) -> String {
        let alias = format!("#{attr}");
        self.names.insert(alias.clone(), attr.to_string());
        alias
    }

    fn bind(&mut self, attr: &str, value: AttributeValue) -> (String, String) {
        let name = self.name(attr);
        let placeholder = format!(":{attr}");
        self.values.insert(placeholder.clone(), value);
        (name, placeholder)
    }

    /// The condition's text, if any.
    pub fn condition_text(&self) -> Option<&str> {
        self.condition.as_deref()
    }

    /// The `SET ... ADD ... REMOVE ...` text.
    pub fn expression(&self) -> String {
        let mut clauses = Vec::new();
        for (keyword, parts) in [
            ("SET", &self.set),
            ("ADD", &self.add),
            ("REMOVE", &self.remove),
        ] {
            if !parts.is_empty() {
                clauses.push(format!("{keyword} {}", parts.join(", ")));
            }
        }
        clauses.join(" ")
    }

    /// As one item of a transaction.
    pub fn into_update(self, table: &str, key: Item) -> Update {
        Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(self.expression())
            .set_condition_expression(self.condition)
            .set_expression_attribute_names((!self.names.is_empty()).then_some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .build()
            .expect("table, key and expression set")
    }

    /// Applied to an `UpdateItem` call (which the caller then sends).
    pub fn apply(
        self,
        call: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        call.update_expression(self.expression())
            .set_condition_expression(self.condition)
            .set_expression_attribute_names((!self.names.is_empty()).then_some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{n, s};

    #[test]
    fn every_attribute_is_aliased_and_clauses_are_ordered() {
        let update = UpdateExpr::new()
            .set("status", s("sent"))
            .remove("due_at")
            .add("count", n(1))
            .set_or_remove("provider", None)
            .condition("#status = :sending")
            .value(":sending", s("sending"));
        assert_eq!(
            update.expression(),
            "SET #status = :status ADD #count :count REMOVE #due_at, #provider"
        );
        let built = update.into_update("t", crate::db::key("a", "b"));
        assert_eq!(built.condition_expression(), Some("#status = :sending"));
        assert_eq!(built.expression_attribute_names().unwrap().len(), 4);
        assert_eq!(built.expression_attribute_values().unwrap().len(), 3);
    }
}
