#!/usr/bin/env ruby
# frozen_string_literal: true

# lite2pg's CI drives a real ActiveRecord application (Debian's ruby-activerecord 6.1) the
# way Django's is driven: `schema` loads the app's schema the way `rails db:schema:load`
# does, `fill` writes awkward values through the models, `dump` prints every object
# canonically, `write` makes the app's next writes and lookups on PostgreSQL and checks
# them, `touch LABEL` writes during the dual-write period. The database comes from
# LITE2PG_RAILS_DB: a SQLite path or a postgres:// URL.
require "active_record"
require "bigdecimal"
require "json"
require "base64"

db = ENV.fetch("LITE2PG_RAILS_DB")
if db.start_with?("postgres")
  ActiveRecord::Base.establish_connection(db)
else
  ActiveRecord::Base.establish_connection(adapter: "sqlite3", database: db)
end
ActiveRecord::Base.default_timezone = :utc
ActiveRecord::Migration.verbose = false

class Author < ActiveRecord::Base
  has_many :posts, dependent: :destroy
end

class Post < ActiveRecord::Base
  belongs_to :author
  has_and_belongs_to_many :tags
end

class Tag < ActiveRecord::Base
  has_and_belongs_to_many :posts
end

def schema
  ActiveRecord::Schema.define(version: 2024_01_02_030405) do
    create_table :authors do |t|
      t.string :name, limit: 40, null: false
      t.string :email, null: false, index: { unique: true }
      t.boolean :active, null: false, default: true
      t.timestamps
    end
    create_table :tags do |t|
      t.string :label, null: false, index: { unique: true }
    end
    create_table :posts do |t|
      t.references :author, null: false, foreign_key: true
      t.string :title, limit: 100, null: false
      t.decimal :price, precision: 10, scale: 2, null: false
      t.decimal :balance, precision: 20, scale: 8 # a double in SQLite, read to 16 digits
      t.datetime :published_at, precision: 6
      t.date :on_sale
      t.time :opens
      t.json :meta
      t.binary :cover
      t.float :weight
      t.integer :pages, default: 0
      t.timestamps
    end
    create_table :posts_tags, id: false do |t|
      t.references :post, null: false, foreign_key: true
      t.references :tag, null: false, foreign_key: true
    end
  end
end

def fill
  ann = Author.create!(name: "Ann", email: "ann@example.com")
  bob = Author.create!(name: "Bob", email: "bob@example.com", active: false)
  gone = Author.create!(name: "Gone", email: "gone@example.com")
  tags = %w[ruby classic ünïcode].map { |l| Tag.create!(label: l) }
  first = Post.create!(author: ann, title: "First", price: BigDecimal("123.40"),
                       balance: BigDecimal("12345678901.12345678"),
                       published_at: Time.utc(2024, 3, 5, 12, 34, 56, 123_456),
                       on_sale: Date.new(2024, 3, 5), opens: Time.utc(2000, 1, 1, 23, 59, 59, 999_999),
                       meta: { "tags" => %w[a b], "n" => 1.5, "nested" => { "deep" => [1, nil, true] } },
                       cover: "\x00\xFFbinary".b, weight: 0.1 + 0.2, pages: 321)
  second = Post.create!(author: bob, title: "Second", price: BigDecimal("10"),
                        published_at: Time.utc(1999, 12, 31, 23, 59, 59), meta: [1, 2, 3], weight: -0.0)
  third = Post.create!(author: gone, title: "Third", price: BigDecimal("0.05"), published_at: Time.now.utc)
  first.tags = tags[0, 2]
  second.tags = tags[1, 2]
  third.destroy
  gone.destroy
  Tag.find_by!(label: "classic").tap { |t| t.posts = [] }.destroy
end

def value(v)
  case v
  when BigDecimal then "decimal:#{v.to_s('F')}"
  when ActiveSupport::TimeWithZone, Time then "time:#{v.utc.iso8601(6)}"
  when Date then "date:#{v.iso8601}"
  when Float then "float:#{[v].pack('G').unpack1('H*')}"
  when String then v.encoding == Encoding::BINARY ? "bytes:#{Base64.strict_encode64(v)}" : v
  else v
  end
end

def dump
  out = {}
  [Author, Tag, Post].each do |model|
    out[model.name] = model.order(:id).map do |o|
      row = o.attributes.transform_values { |v| value(v) }
      row["tags"] = o.tags.map(&:label).sort if o.is_a?(Post)
      row
    end
  end
  puts JSON.pretty_generate(out)
end

def check(ok, what)
  raise "check failed: #{what}" unless ok
end

def write
  check(ActiveRecord::Base.connection.adapter_name == "PostgreSQL", "the app runs on PostgreSQL")
  cy = Author.create!(name: "Cy", email: "cy@example.com")
  check(cy.id == 4, "the next author id is #{cy.id}: the sequence did not continue past 3")
  post = Post.create!(author: cy, title: "Fourth", price: BigDecimal("7.10"), published_at: Time.now.utc,
                      meta: { "n" => 2 })
  check(post.id == 4, "the next post id is #{post.id}")
  check(Post.where("meta->>'n' = ?", "1.5").pluck(:title) == ["First"], "a JSON lookup")
  check(Post.find_by!(price: BigDecimal("123.40")).price == BigDecimal("123.40"), "a decimal lookup")
  check(Post.find_by!(title: "Second").price.to_s("F") == "10.0", "a decimal keeps its value")
  check(Author.find_by!(email: "ann@example.com").posts.count == 1, "a has_many")
  check(Post.find_by!(title: "First").tags.pluck(:label).sort == ["ruby"], "a habtm")
  check(Post.where(published_at: Time.utc(2024, 3, 5, 12, 34, 56, 123_456)).count == 1, "a time lookup to the microsecond")
  Post.where(title: "First").update_all(meta: { "n" => 3 }.to_json)
  Author.find_by!(name: "Bob").destroy
  check(!Post.exists?(title: "Second"), "dependent destroy")
  t = Tag.create!(label: "new")
  check(t.id == 4, "the next tag id is #{t.id}")
  puts "the application's writes and lookups on PostgreSQL work"
end

def touch(label)
  ann = Author.find_by!(email: "ann@example.com")
  post = Post.create!(author: ann, title: "Written on #{label}", price: BigDecimal("3.30"),
                      published_at: Time.utc(2025, 5, 6, 7, 8, 9, 10), meta: { "on" => label },
                      cover: label.b, weight: 2.5, opens: Time.utc(2000, 1, 1, 6, 30, 0, 500_000))
  # The join table has no key: rows added and removed there are followed as a multiset.
  post.tags = Tag.all.to_a
  post.tags.delete(Tag.where(label: "ruby").to_a)
  first = Post.find_by!(title: "First")
  first.update!(meta: { "edited_on" => label }, pages: first.pages + 1)
  puts "the application wrote on #{label} (#{ActiveRecord::Base.connection.adapter_name})"
end

case ARGV[0]
when "schema" then schema
when "fill" then fill
when "dump" then dump
when "write" then write
when "touch" then touch(ARGV.fetch(1))
else abort "usage: app.rb schema|fill|dump|write|touch LABEL"
end
